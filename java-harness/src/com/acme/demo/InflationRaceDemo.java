package com.acme.demo;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reproduces the reflection inflation race: many request threads cross the
 * inflation threshold (15 calls) of the same Method objects at the same
 * moment, and each of them generates its own GeneratedMethodAccessor for the
 * same target method.
 *
 * <p>Why: up to JDK 15, NativeMethodAccessorImpl.invoke checks
 * {@code ++numInvocations > inflationThreshold} on a plain int and then
 * generates an accessor class; nothing stops a second thread from passing
 * the same check while the first is still generating (it takes a class
 * definition). Every thread that calls the Method during that window
 * generates another accessor; all but the last are thrown away (garbage in
 * Metaspace until their DelegatingClassLoader is collected). JDK 16+
 * (JDK-8255883) guards the generation with a CAS, so there is exactly one
 * accessor per target. No GC runs here: the duplicates come close together,
 * from different threads, for the same target, which is what tells this
 * cause apart from the soft-reference cycle (see {@link BeanCopier}).
 *
 * <p>The setting: an application server that deploys endpoints as plugin
 * bundles, each with its own {@link BundleLoader} (child-first, like
 * Tomcat's WebappClassLoader or an OSGi bundle loader). Each round deploys a
 * new bundle with a bean class nobody has called yet, and a burst of 16
 * request threads hits its getters and setters at once. The first accessor
 * generated for a bundle's class asks that bundle's loader for the
 * accessor's superclass (the JVM remembers the answer afterwards), and the
 * bundle looks in its own index first (a millisecond): the window in which
 * the other threads arrive and generate duplicates of that first accessor.
 * The other targets race in a window of a few hundred microseconds, with
 * duplicates when two threads are on a CPU together. With the application
 * class loader alone the race shows, but only some runs get more than a few
 * duplicates: too unreliable for a test. Measured on JDK 11 with 2 CPUs: 150
 * to 240 accessors for the 80 targets (over 100 on one CPU); always exactly
 * 80 on JDK 17.
 *
 * <p>The race needs every thread to share one NativeMethodAccessorImpl per
 * Method (its counter is the racy one), so the main thread looks the
 * Methods up and warms each up to the threshold before releasing the
 * workers (otherwise JDK 17 could also get two accessors, from the equally
 * unsynchronised but harmless acquireMethodAccessor).
 *
 * <p>Usage: InflationRaceDemo [threads] [rounds] (default 16 threads and 4
 * rounds, over {@link Order}, {@link OrderDto}, {@link Shipment} and
 * {@link Invoice}: 20 targets each, 80 in all). Prints
 * {@code harness: inflation-race targets N} before the done line.
 */
public final class InflationRaceDemo {
    /** Calls of each Method per worker: a few, all of them past the threshold. */
    private static final int CALLS_PER_THREAD = 5;

    /** sun.reflect.inflationThreshold's default: the 16th call generates. */
    private static final int INFLATION_THRESHOLD = 15;

    /** One burst per bean class: each has 10 read/write properties (20 targets). */
    private static final Class<?>[] BEANS = {
        Order.class, OrderDto.class, Shipment.class, Invoice.class,
    };

    static final AtomicLong CHECKSUM = new AtomicLong();

    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        int rounds = Math.min(args.length > 1 ? Integer.parseInt(args[1]) : BEANS.length, BEANS.length);
        int targets = 0;
        for (int round = 0; round < rounds; round++) {
            // A new deployment: a new bundle with a bean class nobody called yet.
            BundleLoader bundle = new BundleLoader(InflationRaceDemo.class.getClassLoader(), BEANS[round]);
            targets += burst(bundle.loadClass(BEANS[round].getName()), threads);
        }
        System.out.println("harness: inflation-race targets " + targets);
        System.out.println("harness: inflation-race done");
    }

    /**
     * One burst: {@code threads} workers call every getter and setter of
     * {@code beanClass} through the same Method objects, meeting before each
     * Method so that they all reach its threshold together. Returns the
     * number of target methods.
     */
    private static int burst(Class<?> beanClass, int threads) throws Exception {
        Object bean = beanClass.getDeclaredConstructor().newInstance();
        List<Method> targets = new ArrayList<>();
        List<Object[]> arguments = new ArrayList<>();
        for (Method m : beanClass.getDeclaredMethods()) {
            String name = m.getName();
            if (m.getParameterCount() == 0 && (name.startsWith("get") || name.startsWith("is"))) {
                targets.add(m);
                arguments.add(new Object[0]);
            } else if (m.getParameterCount() == 1 && name.startsWith("set")) {
                targets.add(m);
                arguments.add(new Object[] {sampleArgument(m)});
            }
        }
        // Warm-up on this thread, up to the threshold and not past it: each
        // Method gets its one NativeMethodAccessorImpl now (not in a race
        // between the workers) and its counter stands at 15, so the next
        // call, by whichever worker, generates an accessor.
        for (int i = 0; i < INFLATION_THRESHOLD; i++) {
            for (int t = 0; t < targets.size(); t++) {
                targets.get(t).invoke(bean, arguments.get(t));
            }
        }

        // The workers meet before each Method and are released together.
        // They wait spinning on a volatile counter rather than parked (a
        // barrier wakes them one after another): the ones on a CPU enter
        // invoke() in the same microsecond, the others as soon as they get
        // one. They yield while waiting so that 16 of them do not starve
        // each other on a small machine.
        AtomicInteger ready = new AtomicInteger();
        AtomicInteger released = new AtomicInteger();
        List<Thread> workers = new ArrayList<>();
        for (int w = 0; w < threads; w++) {
            Thread worker = new Thread(() -> {
                try {
                    for (int t = 0; t < targets.size(); t++) {
                        ready.incrementAndGet();
                        while (released.get() <= t) {
                            Thread.yield();
                        }
                        serve(bean, targets.get(t), arguments.get(t));
                    }
                } catch (Exception e) {
                    e.printStackTrace();
                    System.exit(1);
                }
            }, "request-" + w);
            worker.start();
            workers.add(worker);
        }
        for (int t = 0; t < targets.size(); t++) {
            while (ready.get() < threads * (t + 1)) {
                Thread.yield();
            }
            released.set(t + 1); // the burst of traffic for target t
        }
        for (Thread worker : workers) {
            worker.join();
        }
        return targets.size();
    }

    /**
     * One request: calls {@code target} a few times. The {@code invoke} call
     * below is where the (duplicate) accessors are generated; a Metaspace
     * profiler should point here.
     */
    static void serve(Object bean, Method target, Object[] arguments)
            throws IllegalAccessException, InvocationTargetException {
        long sum = 0;
        for (int call = 0; call < CALLS_PER_THREAD; call++) {
            Object value = target.invoke(bean, arguments);
            sum += value == null ? 0 : 1;
        }
        CHECKSUM.addAndGet(sum);
    }

    private static Object sampleArgument(Method setter) {
        Class<?> type = setter.getParameterTypes()[0];
        if (type == long.class) {
            return 1L;
        } else if (type == int.class) {
            return 1;
        } else if (type == boolean.class) {
            return Boolean.TRUE;
        } else if (type == double.class) {
            return 1.0;
        } else if (type == java.math.BigDecimal.class) {
            return java.math.BigDecimal.ONE;
        }
        return "x";
    }

    /**
     * A plugin bundle's class loader: child-first for the bundle's own
     * classes (it defines its own copies of them, from the harness jar, with
     * the jar's code source), parent-last for everything else, after looking
     * the name up in the bundle. That lookup is simulated by a 1 ms pause
     * (a real one reads a jar index or asks a bundle registry). It runs
     * for every class the bundle's classes need, including, in the middle of
     * generating an accessor for a bean method, the accessor's superclass
     * jdk.internal.reflect.MethodAccessorImpl: that keeps the race window
     * open for a millisecond.
     */
    static final class BundleLoader extends ClassLoader {
        static {
            registerAsParallelCapable();
        }

        private final Set<String> own = new HashSet<>();

        BundleLoader(ClassLoader parent, Class<?>... bundled) {
            super(parent);
            for (Class<?> c : bundled) {
                own.add(c.getName());
            }
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!own.contains(name)) {
                lookUpInBundle();
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    String resource = name.replace('.', '/') + ".class";
                    try (InputStream in = getParent().getResourceAsStream(resource)) {
                        if (in == null) {
                            throw new ClassNotFoundException(name);
                        }
                        byte[] bytes = in.readAllBytes();
                        c = defineClass(name, bytes, 0, bytes.length,
                                InflationRaceDemo.class.getProtectionDomain());
                    } catch (IOException e) {
                        throw new ClassNotFoundException(name, e);
                    }
                }
                return c;
            }
        }

        /** Not found in the bundle (the name belongs to the parent): 1 ms spent looking. */
        private static void lookUpInBundle() {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Another endpoint's bean: 10 read/write properties. */
    public static final class Shipment {
        private long id;
        private String carrier;
        private String tracking;
        private int parcels;
        private double weight;
        private String origin;
        private String destination;
        private boolean insured;
        private long shippedAt;
        private long deliveredAt;

        public long getId() { return id; }
        public void setId(long id) { this.id = id; }
        public String getCarrier() { return carrier; }
        public void setCarrier(String carrier) { this.carrier = carrier; }
        public String getTracking() { return tracking; }
        public void setTracking(String tracking) { this.tracking = tracking; }
        public int getParcels() { return parcels; }
        public void setParcels(int parcels) { this.parcels = parcels; }
        public double getWeight() { return weight; }
        public void setWeight(double weight) { this.weight = weight; }
        public String getOrigin() { return origin; }
        public void setOrigin(String origin) { this.origin = origin; }
        public String getDestination() { return destination; }
        public void setDestination(String destination) { this.destination = destination; }
        public boolean isInsured() { return insured; }
        public void setInsured(boolean insured) { this.insured = insured; }
        public long getShippedAt() { return shippedAt; }
        public void setShippedAt(long shippedAt) { this.shippedAt = shippedAt; }
        public long getDeliveredAt() { return deliveredAt; }
        public void setDeliveredAt(long deliveredAt) { this.deliveredAt = deliveredAt; }
    }

    /** And a third: 10 read/write properties. */
    public static final class Invoice {
        private long id;
        private String number;
        private String customer;
        private int lines;
        private double net;
        private double tax;
        private String currency;
        private boolean paid;
        private long issuedAt;
        private long dueAt;

        public long getId() { return id; }
        public void setId(long id) { this.id = id; }
        public String getNumber() { return number; }
        public void setNumber(String number) { this.number = number; }
        public String getCustomer() { return customer; }
        public void setCustomer(String customer) { this.customer = customer; }
        public int getLines() { return lines; }
        public void setLines(int lines) { this.lines = lines; }
        public double getNet() { return net; }
        public void setNet(double net) { this.net = net; }
        public double getTax() { return tax; }
        public void setTax(double tax) { this.tax = tax; }
        public String getCurrency() { return currency; }
        public void setCurrency(String currency) { this.currency = currency; }
        public boolean isPaid() { return paid; }
        public void setPaid(boolean paid) { this.paid = paid; }
        public long getIssuedAt() { return issuedAt; }
        public void setIssuedAt(long issuedAt) { this.issuedAt = issuedAt; }
        public long getDueAt() { return dueAt; }
        public void setDueAt(long dueAt) { this.dueAt = dueAt; }
    }
}
