package com.acme.demo;

import com.acme.demo.codegen.DynamicClassLoader;
import com.acme.demo.codegen.SupplierClassWriter;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A toy JSON library that "speeds up" serialization by generating a writer
 * class per bean type, the way fastjson2 does with ASM.
 *
 * <p>The bug this reproduces: {@link #writerFor} is called per request and
 * nothing caches its result (in the fastjson2 incident a new writer provider
 * per call had the same effect), so every call generates and defines another
 * class in the one long-lived {@link DynamicClassLoader}. Those classes can
 * never be unloaded while the loader lives: Metaspace grows with traffic.
 */
public final class JsonWriter {
    /** Shared by the whole application, like fastjson2's DynamicClassLoader instance. */
    private static final DynamicClassLoader LOADER =
            new DynamicClassLoader(JsonWriter.class.getClassLoader());
    private static final AtomicInteger SEQ = new AtomicInteger();

    private JsonWriter() {}

    /**
     * Generates, defines and instantiates a serializer for {@code type}.
     * A Metaspace profiler should blame this method (it calls
     * DynamicClassLoader.define).
     */
    @SuppressWarnings("unchecked")
    public static Supplier<String> writerFor(Class<?> type) {
        int n = SEQ.incrementAndGet();
        String name = "com.acme.demo.codegen.Serializer_" + n;
        byte[] bytes = SupplierClassWriter.write(name.replace('.', '/'),
                "{\"type\":\"" + type.getSimpleName() + "\",\"writer\":" + n + "}");
        Class<?> generated = LOADER.define(name, bytes);
        try {
            return (Supplier<String>) generated.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("generated serializer " + name + " is broken", e);
        }
    }
}
