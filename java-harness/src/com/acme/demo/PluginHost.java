package com.acme.demo;

import com.acme.demo.codegen.SupplierClassWriter;
import com.acme.demo.plugin.PluginLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * A plugin host that reloads its plugin for every request (as hot-reload
 * dev modes, per-request script sandboxes and per-tenant isolation do):
 * each reload creates a new {@link PluginLoader} that defines the very same
 * class, {@code com.acme.plugin.Handler}, from the very same bytes.
 *
 * <p>Why this shows in Metaspace: every loader gets its own copy of the
 * class, whatever its name. When the host drops the old loader (churn mode)
 * the copies are unloaded at the next GC, so the live count stays flat
 * while definitions keep coming: Metaspace churns (allocation, class
 * unloading work, fragmentation) but does not leak. When the host keeps the
 * old loaders (leak mode: a list of "previous versions" that is never
 * pruned) every copy stays: one more class per request, for good.
 */
public final class PluginHost {
    /** The plugin's class name: the same in every loader. */
    static final String HANDLER = "com.acme.plugin.Handler";
    /** The plugin's class file: the same bytes every time. */
    private static final byte[] HANDLER_BYTES =
            SupplierClassWriter.write(HANDLER.replace('.', '/'), "handled by plugin v1");

    /** Leak mode only: every loader ever created. */
    private final List<PluginLoader> previousVersions = new ArrayList<>();
    private final boolean keepLoaders;
    private int generation;

    public PluginHost(boolean keepLoaders) {
        this.keepLoaders = keepLoaders;
    }

    /**
     * Loads a fresh copy of the plugin and returns its handler. A Metaspace
     * profiler should blame this method (it defines the class through
     * PluginLoader.definePluginClass).
     */
    @SuppressWarnings("unchecked")
    public Supplier<String> reload() {
        PluginLoader loader = new PluginLoader(PluginHost.class.getClassLoader(), ++generation);
        Class<?> handler = loader.definePluginClass(HANDLER, HANDLER_BYTES);
        if (keepLoaders) {
            previousVersions.add(loader);
        }
        try {
            return (Supplier<String>) handler.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("plugin handler is broken", e);
        }
    }
}
