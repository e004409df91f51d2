package com.acme.demo;

/**
 * {@link LoaderChurnDemo} in leak mode, as its own main class so the harness
 * can run it with a single argument: the plugin host keeps every loader it
 * ever created, so none of the copies of com.acme.plugin.Handler can be
 * unloaded, whatever the GC does.
 *
 * <p>Usage: LoaderLeakDemo [requests] (default 300). Ends with
 * {@code harness: loader-leak done}.
 */
public final class LoaderLeakDemo {
    public static void main(String[] args) {
        String requests = args.length > 0 ? args[0] : "300";
        LoaderChurnDemo.main(new String[] {requests, "leak"});
    }
}
