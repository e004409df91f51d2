package com.acme.demo;

/**
 * A remote-service interface as RPC frameworks (Feign, Dubbo, RMI stubs)
 * implement it: through a java.lang.reflect.Proxy. See {@link ProxyDemo}.
 */
public interface OrderClient {
    String fetch(long orderId);
}
