package com.acme;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.function.IntConsumer;

/**
 * The bean-copier leak against the real Spring: {@link OrderService#toDto}
 * calls org.springframework.beans.BeanUtils.copyProperties, under
 * soft-reference pressure (see {@link OrderApp}).
 *
 * <p>Whether the reflection accessors regenerate depends on class loaders.
 * Spring's CachedIntrospectionResults keeps a bean's PropertyDescriptors (and
 * through them its Methods) in a strong cache only when the bean class is
 * "cache-safe": loaded by Spring's own loader or one of its parents.
 * Otherwise it uses a soft cache, which -XX:SoftRefLRUPolicyMSPerMB=0 empties
 * at every GC; Spring then introspects again, gets new Method objects and
 * every getter and setter is inflated to a new GeneratedMethodAccessorN.
 *
 * <ul>
 *   <li>{@code webapp} (default): like a servlet container with Spring in a
 *   shared library loader, the application classes are loaded child-first
 *   by a separate {@link WebappLoader}: about 20 accessors per round
 *   (10 getters + 10 setters) on JDK 11/17.</li>
 *   <li>{@code flat}: everything on one class path: the accessors are
 *   generated once (20 in total).</li>
 * </ul>
 *
 * <p>Not compiled by build.rs (it needs the Spring jars). With the Debian
 * packages (scripts/install-deps.sh):
 *
 * <pre>
 * CP=/usr/share/java/spring3-beans.jar:/usr/share/java/spring3-core.jar:/usr/share/java/commons-logging.jar
 * javac --release 11 -g -cp $CP -d out java-harness/spring/com/acme/*.java
 * java -Xmx64m -XX:SoftRefLRUPolicyMSPerMB=0 -cp out:$CP com.acme.Main [rounds] [webapp|flat]
 * </pre>
 *
 * <p>Defaults: 10 rounds, webapp. Prints "harness: spring done" last.
 */
public final class Main {
    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        String mode = args.length > 1 ? args[1] : "webapp";
        switch (mode) {
            case "flat":
                new OrderApp().accept(rounds);
                break;
            case "webapp":
                URL appClasses = Main.class.getProtectionDomain().getCodeSource().getLocation();
                try (WebappLoader webapp = new WebappLoader(appClasses, Main.class.getClassLoader())) {
                    // IntConsumer is a JDK type, shared by both loaders: no
                    // reflective call (which would inflate on its own).
                    IntConsumer app = (IntConsumer) webapp.loadClass(OrderApp.class.getName())
                            .getDeclaredConstructor().newInstance();
                    app.accept(rounds);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                break;
            default:
                throw new IllegalArgumentException("mode must be webapp or flat, not " + mode);
        }
        System.out.println("harness: spring done");
    }

    /**
     * A child-first loader for the application's own classes (com.acme.*
     * except this launcher), like Tomcat's web-application loader; Spring and
     * everything else come from the parent.
     */
    static final class WebappLoader extends URLClassLoader {
        static {
            registerAsParallelCapable();
        }

        WebappLoader(URL appClasses, ClassLoader parent) {
            super(new URL[] {appClasses}, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!name.startsWith("com.acme.") || name.startsWith(Main.class.getName())) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    c = findClass(name);
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }
    }
}
