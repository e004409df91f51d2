package com.acme.bench;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Workload (c) of the benchmark: a steady service loop that defines no class
 * after warm-up. One operation = four reflective getter calls through cached
 * {@code Method}s, a HashMap update and a small sort. Runs {@code warmup}
 * seconds untimed (JIT, reflection inflation), then counts operations for
 * {@code seconds} and prints {@code bench: ops_per_sec=N}.
 *
 * <p>Usage: SteadyService warmupSeconds seconds.
 */
public final class SteadyService {
    public static final class Item {
        private final int id;
        private final String name;
        private final long price;
        private final boolean active;

        Item(int id) {
            this.id = id;
            this.name = "item-" + id;
            this.price = id * 31L;
            this.active = (id & 1) == 0;
        }

        public int getId() { return id; }
        public String getName() { return name; }
        public long getPrice() { return price; }
        public boolean isActive() { return active; }
    }

    private static final Method[] GETTERS;

    static {
        try {
            GETTERS = new Method[] {
                Item.class.getMethod("getId"),
                Item.class.getMethod("getName"),
                Item.class.getMethod("getPrice"),
                Item.class.getMethod("isActive"),
            };
        } catch (NoSuchMethodException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    static volatile Object sink;

    public static void main(String[] args) throws Exception {
        double warmup = Double.parseDouble(args[0]);
        double seconds = Double.parseDouble(args[1]);
        Item[] items = new Item[256];
        for (int i = 0; i < items.length; i++) {
            items[i] = new Item(i);
        }
        Map<String, Long> totals = new HashMap<>();
        run(items, totals, warmup);
        // The benchmark's "attached, then stopped" variant attaches metascope
        // here, records briefly and stops it; we measure after that.
        String gate = System.getProperty("bench.gate");
        if (gate != null) {
            System.out.println("bench: warm pid=" + ProcessHandle.current().pid());
            System.out.flush();
            while (!new java.io.File(gate).exists()) {
                Thread.sleep(10);
            }
        }
        long start = System.nanoTime();
        long ops = run(items, totals, seconds);
        double elapsed = (System.nanoTime() - start) / 1e9;
        System.out.println("bench: ops_per_sec=" + (long) (ops / elapsed));
    }

    private static long run(Item[] items, Map<String, Long> totals, double seconds) throws Exception {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long ops = 0;
        List<Long> window = new ArrayList<>(16);
        while (System.nanoTime() < end) {
            for (int k = 0; k < 256; k++) {
                Item item = items[(int) (ops & 255)];
                long acc = 0;
                String key = null;
                for (Method getter : GETTERS) {
                    Object value = getter.invoke(item);
                    if (value instanceof Number) {
                        acc += ((Number) value).longValue();
                    } else if (value instanceof String) {
                        key = (String) value;
                    }
                }
                totals.merge(key, acc, Long::sum);
                window.add(acc ^ ops);
                if (window.size() == 16) {
                    Collections.sort(window);
                    sink = window.get(8);
                    window.clear();
                }
                ops++;
            }
        }
        return ops;
    }
}
