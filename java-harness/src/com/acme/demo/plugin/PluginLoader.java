package com.acme.demo.plugin;

/**
 * The loader a plugin host creates per plugin (re)load, or a framework per
 * request or per tenant: it defines the plugin's classes from bytes and
 * nothing else (the parent serves the host's own classes).
 *
 * <p>Why it matters: a class can only be unloaded together with its loader.
 * A host that drops the loader after use lets the JVM unload the plugin
 * classes at the next GC that unloads classes (churn: Metaspace is allocated
 * and freed over and over); a host that keeps the loaders (a registry that is
 * never pruned, a thread local, a static cache) leaks one copy of every
 * plugin class per load. Classes are defined without a ProtectionDomain, so
 * they have no code source.
 */
public final class PluginLoader extends ClassLoader {
    private final int generation;

    public PluginLoader(ClassLoader parent, int generation) {
        super(parent);
        this.generation = generation;
    }

    public int generation() {
        return generation;
    }

    /**
     * Defines one plugin class. This is the frame nearest to the JVM's define
     * point; the code that decided to (re)load is its caller.
     */
    public Class<?> definePluginClass(String name, byte[] bytes) {
        return defineClass(name, bytes, 0, bytes.length);
    }
}
