package com.acme.demo.codegen;

/**
 * A class loader that exists to define generated classes: the pattern of
 * fastjson2's com.alibaba.fastjson2.util.DynamicClassLoader, Janino, Groovy and
 * many home-grown serializers.
 *
 * <p>One instance lives as long as the application, so every class defined
 * through it stays in Metaspace for good: a class is only unloaded together
 * with its loader. Classes are defined without a ProtectionDomain, so they
 * have no code source (-Xlog:class+load shows "source: __JVM_DefineClass__").
 */
public final class DynamicClassLoader extends ClassLoader {
    static {
        // Serializers may be generated from several threads at once.
        registerAsParallelCapable();
    }

    public DynamicClassLoader(ClassLoader parent) {
        super(parent);
    }

    /**
     * Defines one generated class. This is the frame nearest to the JVM's
     * define point; the code that decided to generate the class is its
     * caller.
     */
    public Class<?> define(String name, byte[] bytes) {
        return defineClass(name, bytes, 0, bytes.length);
    }
}
