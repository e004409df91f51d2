package com.acme.demo;

/**
 * Reproduces the fastjson2-style leak: a serializer class is generated for
 * every request and defined in one long-lived custom class loader, so the
 * number of loaded classes (and Metaspace) grows with the request count and
 * never comes back down.
 *
 * <p>Usage: DynamicLoaderDemo [count] (default 200): serializes {@code count}
 * "requests", defining {@code count} classes
 * com.acme.demo.codegen.Serializer_1..N.
 */
public final class DynamicLoaderDemo {
    public static void main(String[] args) {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        long bytes = 0;
        for (int i = 0; i < count; i++) {
            bytes += handleRequest(new Order());
        }
        if (bytes == 0 && count > 0) {
            throw new AssertionError("serializers produced nothing");
        }
        System.out.println("harness: dynamic-loader done");
    }

    /** One request: serialize the response with a (freshly generated) writer. */
    private static int handleRequest(Order order) {
        return JsonWriter.writerFor(order.getClass()).get().length();
    }
}
