package com.acme.demo;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.math.BigDecimal;

/**
 * The control: a service that uses reflection and proxies the right way and
 * therefore stops defining classes once it is warm. A Metaspace profiler
 * should report class definitions during warm-up only and a flat line after.
 *
 * <p>Warm-up calls a few cached Method objects well past the inflation
 * threshold (so JDK <= 17 generates their accessors once) and creates proxies
 * for one interface in one loader (Proxy caches that proxy class). The steady
 * phase then runs exactly the same code for {@code seconds} and must define
 * nothing new.
 *
 * <p>Usage: SteadyDemo [seconds] (default 2).
 */
public final class SteadyDemo {
    /** Looked up once and kept strongly: no regeneration. */
    private static final Method[] GETTERS;

    static {
        try {
            GETTERS = new Method[] {
                Order.class.getMethod("getId"),
                Order.class.getMethod("getCustomer"),
                Order.class.getMethod("getPrice"),
            };
        } catch (NoSuchMethodException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    static volatile Object sink;

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 2;
        Order order = new Order();
        order.setId(7);
        order.setCustomer("steady");
        order.setPrice(BigDecimal.ONE);

        // Warm-up: runs exactly the steady-state code. 2,000 requests are
        // well past the reflection inflation threshold (15 calls, JDK <= 17)
        // and the method-handle customization threshold (127 calls, which
        // JDK 18+ reflection hits), and create proxies of one cached class.
        for (int i = 0; i < 20; i++) {
            batch(order);
        }
        System.out.println("harness: steady warm-up done");
        System.out.flush();

        long end = System.nanoTime() + (long) (seconds * 1e9);
        long requests = 0;
        while (System.nanoTime() < end) {
            requests += batch(order);
        }
        sink = null;
        System.out.println("harness: steady done");
        if (requests == 0 && seconds > 0) {
            throw new AssertionError("no requests served");
        }
    }

    /** 100 requests, then a short wait as a real service waits for traffic. */
    private static int batch(Order order) throws Exception {
        for (int i = 0; i < 100; i++) {
            serve(order, i);
        }
        Thread.sleep(5);
        return 100;
    }

    /** One request: reflective reads through cached Methods, one proxy call. */
    private static void serve(Order order, int i) throws Exception {
        Object last = null;
        for (Method getter : GETTERS) {
            last = getter.invoke(order);
        }
        OrderClient client = newClient();
        sink = client.fetch(i) + last;
    }

    private static final InvocationHandler HANDLER = (proxy, method, args) ->
            "fetch".equals(method.getName()) ? "order-" + args[0] : null;

    /** Same interface, same loader every time: Proxy reuses its cached class. */
    private static OrderClient newClient() {
        return (OrderClient) Proxy.newProxyInstance(
                SteadyDemo.class.getClassLoader(), new Class<?>[] {OrderClient.class}, HANDLER);
    }
}
