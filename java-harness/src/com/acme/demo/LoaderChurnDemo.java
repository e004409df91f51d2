package com.acme.demo;

/**
 * Reproduces class-loader churn: a plugin reloaded per request in a new
 * loader, defining the same class name from the same bytes each time (see
 * {@link PluginHost}).
 *
 * <p>In {@code churn} mode (the default) the host drops each loader after the
 * request, and a GC every {@value #GC_EVERY} requests (what a busy heap does
 * on its own) unloads the dropped copies: defined keeps growing, live stays
 * below {@value #GC_EVERY}. In {@code leak} mode the host keeps every loader:
 * the same GCs unload nothing.
 *
 * <p>Usage: LoaderChurnDemo [requests] [churn|leak] (default 300 churn):
 * defines {@code requests} copies of com.acme.plugin.Handler; in churn mode
 * all but the last {@code requests % GC_EVERY} are unloaded by the end.
 * Ends with {@code harness: loader-churn done} or {@code harness: loader-leak
 * done} (two harness programs, one class).
 */
public final class LoaderChurnDemo {
    /** Requests between two System.gc() calls. */
    static final int GC_EVERY = 40;

    public static void main(String[] args) {
        int requests = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        String mode = args.length > 1 ? args[1] : "churn";
        if (!mode.equals("churn") && !mode.equals("leak")) {
            throw new IllegalArgumentException("mode must be churn or leak: " + mode);
        }
        PluginHost host = new PluginHost(mode.equals("leak"));
        int served = 0;
        for (int request = 1; request <= requests; request++) {
            served += host.reload().get().isEmpty() ? 0 : 1;
            if (request % GC_EVERY == 0) {
                System.gc();
            }
        }
        if (served != requests) {
            throw new AssertionError("served " + served + " of " + requests);
        }
        System.out.println("harness: loader-" + mode + " done");
    }
}
