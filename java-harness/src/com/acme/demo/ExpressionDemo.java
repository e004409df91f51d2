package com.acme.demo;

/**
 * Reproduces per-expression compilation (Groovy, Rhino, Nashorn, MVEL...):
 * every distinct expression string becomes its own class, so Metaspace grows
 * with the number of distinct values pasted into expression text.
 *
 * <p>Each customer has its own markup and fee, and the code that quotes a
 * price builds the rule as text with those values inlined, then asks
 * {@link PricingService#evaluate} for the result. Every customer is quoted
 * twice in a row: the second quote hits the engine's cache (same text),
 * which shows that caching does not help when the texts are all different.
 *
 * <p>Usage: ExpressionDemo [customers] (default 300): defines
 * {@code customers} classes Script1..ScriptN, each in its own loader, none
 * unloaded.
 */
public final class ExpressionDemo {
    public static void main(String[] args) {
        int customers = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        double total = 0;
        for (int customer = 0; customer < customers; customer++) {
            // A customer's basket and checkout: two quotes with the same text.
            total += quote(customer, 100.0);
            total += quote(customer, 250.0);
        }
        if (customers > 0 && !(total > 0)) {
            throw new AssertionError("no prices computed");
        }
        System.out.println("harness: expression done");
    }

    /** The bug: the customer's numbers become part of the expression text. */
    private static double quote(int customer, double price) {
        String markup = String.format(java.util.Locale.ROOT, "%.3f", 1.0 + customer / 1000.0);
        String expression = "price * " + markup + " + " + (customer % 7);
        return PricingService.evaluate(expression, price);
    }
}
