package com.acme.demo;

import java.math.BigDecimal;

/**
 * Reproduces the reflection-accessor leak behind many "Metaspace keeps
 * growing" incidents: a bean copier (think Spring BeanUtils.copyProperties)
 * on a busy heap with soft references cleared eagerly.
 *
 * <p>Run with {@code -XX:SoftRefLRUPolicyMSPerMB=0} (and a small heap, e.g.
 * -Xmx64m). Each round copies an Order to an OrderDto more often than the
 * inflation threshold (15 calls per Method), so every getter and setter gets
 * a GeneratedMethodAccessor; then the round allocates garbage and calls
 * System.gc(), which clears the soft references to the reflection data. The
 * next round starts with fresh Method objects and generates the accessors
 * all over again: about 20 classes (10 getters + 10 setters) per round.
 *
 * <p>On JDK 18+ reflection uses method handles instead (JEP 416) unless
 * -Djdk.reflect.useDirectMethodHandle=false (JDK 18-21).
 *
 * <p>Usage: CopierDemo [rounds] (default 10).
 */
public final class CopierDemo {
    /** More than the inflation threshold (15) so every Method inflates each round. */
    private static final int COPIES_PER_ROUND = 20;

    /** Kept reachable so the JIT cannot drop the garbage allocation. */
    static volatile Object sink;

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Order order = sampleOrder();
        long checksum = 0;
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < COPIES_PER_ROUND; i++) {
                OrderDto dto = new OrderDto();
                BeanCopier.copy(order, dto);
                checksum += dto.getQuantity();
            }
            simulateLoad();
        }
        System.out.println("harness: copier done");
        if (checksum != (long) rounds * COPIES_PER_ROUND * order.getQuantity()) {
            throw new AssertionError("copy lost data: " + checksum);
        }
    }

    /**
     * What the rest of a busy service does between requests: allocate. The
     * young collections this causes advance the soft-reference clock, so the
     * reflection objects used in this round count as "not recently used";
     * the explicit System.gc() then clears them (an LRU policy of 0 ms/MB
     * keeps nothing that was not touched since the previous collection).
     */
    private static void simulateLoad() {
        for (int i = 0; i < 256; i++) {
            sink = new byte[512 * 1024];
        }
        sink = null;
        System.gc();
    }

    private static Order sampleOrder() {
        Order o = new Order();
        o.setId(42);
        o.setCustomer("ACME Corp");
        o.setStatus("NEW");
        o.setQuantity(3);
        o.setPrice(new BigDecimal("19.99"));
        o.setCurrency("EUR");
        o.setSku("SKU-1234");
        o.setWarehouse("FRA-1");
        o.setExpress(true);
        o.setCreatedAt(1_700_000_000_000L);
        return o;
    }
}
