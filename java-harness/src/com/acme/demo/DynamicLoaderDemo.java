package com.acme.demo;

/**
 * Reproduces the fastjson2-style leak: a serializer class is generated for
 * every request and defined in one long-lived custom class loader, so the
 * number of loaded classes (and Metaspace) grows with the request count and
 * never comes back down.
 *
 * <p>Usage: DynamicLoaderDemo [count] [hold-after-oom] (default 200):
 * serializes {@code count} "requests", defining {@code count} classes
 * com.acme.demo.codegen.Serializer_1..N. With {@code hold-after-oom}, an
 * OutOfMemoryError prints "harness: dynamic-loader out of metaspace" and
 * the JVM waits for stdin to close, then exits 3.
 */
public final class DynamicLoaderDemo {
    public static void main(String[] args) {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        boolean holdAfterOom = args.length > 1 && args[1].equals("hold-after-oom");
        long bytes = 0;
        try {
            for (int i = 0; i < count; i++) {
                bytes += handleRequest(new Order());
            }
        } catch (OutOfMemoryError e) {
            if (!holdAfterOom) {
                throw e;
            }
            // Stay alive (until stdin closes) so a test can look at what
            // the JVM wrote about the error before it goes away.
            System.out.println("harness: dynamic-loader out of metaspace");
            System.out.flush();
            try {
                while (System.in.read() != -1) {
                    // wait
                }
            } catch (java.io.IOException ignored) {
                // stdin gone: exit
            }
            System.exit(3);
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
