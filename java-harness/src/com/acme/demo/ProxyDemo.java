package com.acme.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Reproduces proxy-class growth: java.lang.reflect.Proxy caches a proxy class
 * per (class loader, interfaces), so code that creates proxies in a fresh
 * class loader every time (per tenant, per plugin, per hot redeploy) defines
 * a new $ProxyN class every time, and the loaded interface with it.
 *
 * <p>Here each "tenant" gets its own isolated {@link TenantLoader} that loads
 * {@link OrderClient} itself, and {@link #newClient} builds a client proxy in
 * it. The clients are kept in a registry that is never pruned, so neither the
 * loaders nor their classes can be unloaded.
 *
 * <p>Usage: ProxyDemo [count] (default 100): creates {@code count} clients,
 * defining {@code count} proxy classes (plus {@code count} copies of
 * OrderClient).
 */
public final class ProxyDemo {
    /** Never pruned: the leak. */
    private static final List<Object> CLIENTS = new ArrayList<>();

    public static void main(String[] args) {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        byte[] clientInterface = classBytes(OrderClient.class);
        for (int tenant = 0; tenant < count; tenant++) {
            Object client = newClient(tenant, clientInterface);
            CLIENTS.add(client);
            // The interface copy lives in another loader, so the app cannot
            // cast to it; the proxy also implements Supplier (a JDK type all
            // loaders share) to show it works.
            if (!((Supplier<?>) client).get().equals("tenant-" + tenant)) {
                throw new AssertionError("wrong client for tenant " + tenant);
            }
        }
        System.out.println("harness: proxy done");
    }

    /**
     * Creates the OrderClient proxy for one tenant. Each call passes a new
     * class loader, so Proxy cannot reuse a cached proxy class and defines a
     * new one: a Metaspace profiler should blame this method.
     */
    static Object newClient(int tenant, byte[] clientInterface) {
        TenantLoader loader = new TenantLoader(OrderClient.class.getName(), clientInterface);
        Class<?> iface;
        try {
            iface = loader.loadClass(OrderClient.class.getName());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
        String id = "tenant-" + tenant;
        InvocationHandler handler = (proxy, method, args) -> {
            switch (method.getName()) {
                case "get": return id;
                case "fetch": return id + ":order-" + args[0];
                case "hashCode": return System.identityHashCode(proxy);
                case "equals": return proxy == args[0];
                case "toString": return "OrderClient[" + id + "]";
                default: throw new UnsupportedOperationException(method.toString());
            }
        };
        return Proxy.newProxyInstance(loader, new Class<?>[] {iface, Supplier.class}, handler);
    }

    private static byte[] classBytes(Class<?> type) {
        String resource = "/" + type.getName().replace('.', '/') + ".class";
        try (InputStream in = type.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("class file not found: " + resource);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * An isolating loader (no application parent, like a plugin or tenant
     * loader) that defines its own copy of one interface and delegates
     * everything else to the bootstrap loader.
     */
    static final class TenantLoader extends ClassLoader {
        private final String ownName;
        private final byte[] ownBytes;

        TenantLoader(String ownName, byte[] ownBytes) {
            super(null);
            this.ownName = ownName;
            this.ownBytes = ownBytes;
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            if (name.equals(ownName)) {
                return defineClass(name, ownBytes, 0, ownBytes.length);
            }
            throw new ClassNotFoundException(name);
        }
    }
}
