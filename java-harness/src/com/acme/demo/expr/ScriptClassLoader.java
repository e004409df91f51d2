package com.acme.demo.expr;

/**
 * The loader a script engine creates for every script it compiles, like
 * Groovy's GroovyClassLoader$InnerLoader or Nashorn's per-script loader.
 *
 * <p>Why a loader per script: engines do it so a script class can be
 * unloaded on its own once nothing refers to it. That only helps if the
 * engine (or the application) drops the compiled script; an unbounded cache
 * keyed by expression text keeps every loader, and with it every class.
 * Classes are defined without a ProtectionDomain, so they have no code source
 * (-Xlog:class+load shows "source: __JVM_DefineClass__").
 */
public final class ScriptClassLoader extends ClassLoader {
    public ScriptClassLoader(ClassLoader parent) {
        super(parent);
    }

    /**
     * Defines one compiled script. This is the frame nearest to the JVM's
     * define point; the code that decided to compile is its caller.
     */
    public Class<?> defineScript(String name, byte[] bytes) {
        return defineClass(name, bytes, 0, bytes.length);
    }
}
