package com.acme.demo;

import java.beans.BeanInfo;
import java.beans.IntrospectionException;
import java.beans.Introspector;
import java.beans.PropertyDescriptor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A BeanUtils-style property copier, the kind every codebase grows: find the
 * properties of both beans with java.beans.Introspector, then for each
 * property call the getter on the source and the setter on the target
 * through {@link Method#invoke}.
 *
 * <p>Why this defines classes: up to JDK 17 (and on JDK 18-21 with
 * -Djdk.reflect.useDirectMethodHandle=false) Method.invoke starts with a JNI
 * accessor and, after 15 calls of one Method, "inflates" it by generating a
 * jdk.internal.reflect.GeneratedMethodAccessorN class (its own
 * DelegatingClassLoader). The accessor hangs off the JDK's root Method
 * object, which is held only through SoftReferences (Class.reflectionData,
 * and PropertyDescriptor keeps its read/write Methods softly too). Under
 * -XX:SoftRefLRUPolicyMSPerMB=0 every GC may clear them, the next lookup
 * creates new root Methods, and 15 calls later a new accessor class is
 * generated for the same getter: Metaspace keeps growing.
 *
 * <p>Like Spring's CachedIntrospectionResults this caches the
 * PropertyDescriptors per class. That does not help: it is the Methods
 * inside them that are soft.
 */
public final class BeanCopier {
    /** Property name -> descriptor, per bean class. */
    private static final Map<Class<?>, Map<String, PropertyDescriptor>> DESCRIPTORS =
            new ConcurrentHashMap<>();

    private BeanCopier() {}

    /**
     * Copies every readable property of {@code source} to the writable
     * property of the same name on {@code target}.
     *
     * <p>The two {@code invoke} calls below are where the generated accessor
     * classes come from; a Metaspace profiler should point here.
     */
    public static void copy(Object source, Object target) {
        Map<String, PropertyDescriptor> sourceProps = descriptors(source.getClass());
        for (PropertyDescriptor targetProp : descriptors(target.getClass()).values()) {
            Method setter = targetProp.getWriteMethod();
            PropertyDescriptor sourceProp = sourceProps.get(targetProp.getName());
            // getReadMethod()/getWriteMethod() look the Method up again when
            // the soft reference to it was cleared: a new Method, a new root.
            Method getter = sourceProp == null ? null : sourceProp.getReadMethod();
            if (setter == null || getter == null) {
                continue;
            }
            try {
                Object value = getter.invoke(source);
                setter.invoke(target, value);
            } catch (IllegalAccessException | InvocationTargetException e) {
                throw new IllegalStateException("cannot copy property " + targetProp.getName(), e);
            }
        }
    }

    private static Map<String, PropertyDescriptor> descriptors(Class<?> type) {
        return DESCRIPTORS.computeIfAbsent(type, t -> {
            try {
                BeanInfo info = Introspector.getBeanInfo(t, Object.class);
                Map<String, PropertyDescriptor> byName = new HashMap<>();
                for (PropertyDescriptor pd : info.getPropertyDescriptors()) {
                    byName.put(pd.getName(), pd);
                }
                return byName;
            } catch (IntrospectionException e) {
                throw new IllegalStateException("cannot introspect " + t.getName(), e);
            }
        });
    }
}
