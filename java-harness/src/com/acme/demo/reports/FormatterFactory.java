package com.acme.demo.reports;

import com.acme.demo.codegen.SupplierClassWriter;
import java.security.ProtectionDomain;
import java.util.function.Supplier;

/**
 * The application's own code generator (in-house, the fastjson 1.x shape):
 * it writes a formatter class for a report layout and defines it in one
 * long-lived loader with the application's own protection domain, so the
 * classes claim to come from the application's jar. It forgets to cache:
 * every call generates the formatter again, under a new name.
 */
public final class FormatterFactory {
    private static final ProtectionDomain DOMAIN = FormatterFactory.class.getProtectionDomain();
    private static final FormatterLoader LOADER =
            new FormatterLoader(FormatterFactory.class.getClassLoader());
    private static int generated;

    private FormatterFactory() {}

    /** Returns a formatter for `layout` (a new class every call: the bug). */
    public static synchronized Supplier<?> formatterFor(String layout) {
        String name = "com/acme/demo/reports/LayoutFormatter_" + (++generated);
        byte[] bytes = SupplierClassWriter.write(name, "formatted with " + layout);
        Class<?> c = LOADER.define(name.replace('/', '.'), bytes, DOMAIN);
        try {
            return (Supplier<?>) c.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One loader for every generated formatter. */
    static final class FormatterLoader extends ClassLoader {
        FormatterLoader(ClassLoader parent) {
            super(parent);
        }

        Class<?> define(String name, byte[] bytes, ProtectionDomain domain) {
            return defineClass(name, bytes, 0, bytes.length, domain);
        }
    }
}
