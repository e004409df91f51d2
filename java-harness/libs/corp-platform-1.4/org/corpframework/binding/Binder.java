package org.corpframework.binding;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;

/**
 * An in-house platform's service binder: {@link #bind} returns an
 * implementation of a service interface that forwards every call to a
 * handler. It isolates each binding in a fresh class loader, so
 * java.lang.reflect.Proxy cannot reuse a proxy class and defines a new one
 * on every call.
 */
public final class Binder {
    private Binder() {}

    /** A loader per binding: the mistake. */
    static final class BindingLoader extends ClassLoader {
        BindingLoader(ClassLoader parent) {
            super(parent);
        }
    }

    public static <T> T bind(Class<T> service, InvocationHandler handler) {
        ClassLoader isolated = new BindingLoader(service.getClassLoader());
        Object proxy = Proxy.newProxyInstance(isolated, new Class<?>[] {service}, handler);
        return service.cast(proxy);
    }
}
