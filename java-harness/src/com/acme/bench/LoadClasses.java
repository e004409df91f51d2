package com.acme.bench;

/**
 * Workload (a) of the benchmark: start-up of an application that loads many
 * ordinary classes from a jar. Loads and initializes {@code prefix0} ..
 * {@code prefix(count-1)} through the application class loader; the
 * benchmark generates that jar (bench/src/classgen.rs) and puts it on the
 * class path.
 *
 * <p>Usage: LoadClasses count prefix [noinit] (e.g. 20000 bench.gen.C).
 * With {@code noinit} the classes are loaded without being linked or
 * initialised ({@code Class.forName(name, false, loader)}): the JVM's
 * cheapest class load, where an agent's per-class cost shows most.
 */
public final class LoadClasses {
    public static void main(String[] args) throws Exception {
        int count = Integer.parseInt(args[0]);
        String prefix = args[1];
        boolean initialize = !(args.length > 2 && args[2].equals("noinit"));
        ClassLoader loader = LoadClasses.class.getClassLoader();
        long sum = 0;
        long cpu = ThreadCpu.nanos();
        for (int i = 0; i < count; i++) {
            Class<?> c = Class.forName(prefix + i, initialize, loader);
            sum += c.getName().length();
        }
        ThreadCpu.report(cpu < 0 ? -1 : ThreadCpu.nanos() - cpu);
        System.out.println("bench: loaded " + count + " classes (" + sum + ")");
    }
}
