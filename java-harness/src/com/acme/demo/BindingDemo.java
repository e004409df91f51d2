package com.acme.demo;

import java.lang.reflect.InvocationHandler;
import java.util.function.Supplier;
import org.corpframework.binding.Binder;

/**
 * Reproduces a framework on no built-in list between the application and
 * the define point: an in-house platform jar (corp-platform-1.4.jar,
 * package org.corpframework) binds a service per request, and each binding
 * defines a new proxy class. metascope must blame the application's line
 * that asks for a binding per request ({@link OrderController#handle}),
 * and name the platform's {@code Binder.bind} as the library it went
 * through, knowing the platform from the application by the jar its
 * classes come from.
 *
 * <p>Usage: BindingDemo [requests] (default 150).
 */
public final class BindingDemo {
    public static void main(String[] args) {
        int requests = args.length > 0 ? Integer.parseInt(args[0]) : 150;
        OrderController controller = new OrderController();
        for (int i = 0; i < requests; i++) {
            if (!controller.handle(i).equals("order-" + i)) {
                throw new AssertionError("wrong answer for request " + i);
            }
        }
        System.out.println("harness: binding done");
    }

    /** The application's controller: binds its service on every request. */
    static final class OrderController {
        String handle(int request) {
            InvocationHandler handler = (proxy, method, args) -> "order-" + request;
            @SuppressWarnings("unchecked")
            Supplier<String> service = Binder.bind(Supplier.class, handler);
            return service.get();
        }
    }
}
