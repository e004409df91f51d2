package com.acme;

import java.math.BigDecimal;
import java.util.function.IntConsumer;

/**
 * The web application: maps an Order to an OrderDto through
 * {@link OrderService#toDto} (Spring BeanUtils.copyProperties) in rounds,
 * each round followed by allocation and System.gc(), so that under
 * -XX:SoftRefLRUPolicyMSPerMB=0 softly held reflection data is cleared.
 *
 * <p>Implements IntConsumer (a JDK type) so that {@link Main} can run it
 * inside a child class loader without reflection.
 */
public final class OrderApp implements IntConsumer {
    /** Past the inflation threshold (15 calls per Method) every round. */
    private static final int COPIES_PER_ROUND = 20;

    static volatile Object sink;

    @Override
    public void accept(int rounds) {
        OrderService service = new OrderService();
        Order order = sampleOrder();
        long checksum = 0;
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < COPIES_PER_ROUND; i++) {
                checksum += service.toDto(order).getQuantity();
            }
            // A busy service allocates between requests: the young GCs
            // advance the soft-reference clock, and the full GC then clears
            // every soft reference not used since the previous GC.
            for (int i = 0; i < 256; i++) {
                sink = new byte[512 * 1024];
            }
            sink = null;
            System.gc();
        }
        if (checksum != (long) rounds * COPIES_PER_ROUND * order.getQuantity()) {
            throw new AssertionError("copy lost data: " + checksum);
        }
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
