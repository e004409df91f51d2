package com.acme.demo;

import org.minilisp.Interpreter;

/**
 * Reproduces per-expression compilation by an interpreter that defines
 * several classes per evaluation, more than one per loader: each request
 * evaluates a form with the request's values inlined, and the interpreter
 * (minilisp-0.9.jar) compiles every form into two classes in a fresh
 * loader, with its own jar's protection domain. The cure is to compile the
 * rule once ({@code Interpreter.compile}) and call it with the values.
 *
 * <p>Usage: LispDemo [requests] (default 150).
 */
public final class LispDemo {
    public static void main(String[] args) {
        int requests = args.length > 0 ? Integer.parseInt(args[0]) : 150;
        DiscountRules rules = new DiscountRules();
        int seen = 0;
        for (int i = 0; i < requests; i++) {
            seen += rules.apply(100 + i).length() > 0 ? 1 : 0;
        }
        if (seen != requests) {
            throw new AssertionError("missing answers");
        }
        System.out.println("harness: lisp done");
    }

    /** The application's pricing rules, written in the embedded Lisp. */
    static final class DiscountRules {
        private final Interpreter interpreter = new Interpreter();

        String apply(int price) {
            return String.valueOf(interpreter.eval("(* " + price + " 0.9)"));
        }
    }
}
