package org.minilisp;

import java.security.ProtectionDomain;
import java.util.function.Supplier;

/** Holds the classes of one compiled form. */
final class FnLoader extends ClassLoader {
    FnLoader(ClassLoader parent) {
        super(parent);
    }

    Supplier<?> instantiate(String internalName, byte[] bytes, ProtectionDomain domain) {
        Class<?> c = defineClass(internalName.replace('/', '.'), bytes, 0, bytes.length, domain);
        try {
            return (Supplier<?>) c.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
