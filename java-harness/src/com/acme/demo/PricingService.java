package com.acme.demo;

import com.acme.demo.expr.ExpressionCompiler;
import com.acme.demo.expr.ScriptClassLoader;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.DoubleUnaryOperator;

/**
 * A pricing service that lets "business rules" be expressions, evaluated by
 * a script engine ({@link ExpressionCompiler}, standing in for Groovy's
 * GroovyShell, Rhino or Nashorn).
 *
 * <p>The bug this reproduces: the caller builds the expression text per
 * customer with the customer's numbers pasted in ({@code "price * " + markup
 * + " + " + fee}) instead of passing them as variables. The engine compiles
 * every distinct text into its own class ({@code Script<N>} in the default
 * package, as GroovyShell names them) in its own {@link ScriptClassLoader},
 * and the compiled-script cache, keyed by text and never evicted, keeps them
 * all: one class per distinct expression, for good.
 */
public final class PricingService {
    /** Compiled scripts by expression text, like GroovyShell's class cache: never evicted. */
    private static final Map<String, DoubleUnaryOperator> SCRIPTS = new ConcurrentHashMap<>();
    /** GroovyShell numbers its scripts Script1, Script2, ... */
    private static final AtomicInteger SCRIPT_SEQ = new AtomicInteger();

    private PricingService() {}

    /**
     * Evaluates {@code expression} for {@code price}, compiling it on first
     * use. A Metaspace profiler should blame this method (it defines the
     * Script classes through ScriptClassLoader.defineScript).
     */
    public static double evaluate(String expression, double price) {
        DoubleUnaryOperator script = SCRIPTS.get(expression);
        if (script == null) {
            String name = "Script" + SCRIPT_SEQ.incrementAndGet();
            byte[] bytes = ExpressionCompiler.compile(name, expression);
            Class<?> compiled = new ScriptClassLoader(PricingService.class.getClassLoader())
                    .defineScript(name, bytes);
            try {
                script = (DoubleUnaryOperator) compiled.getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("compiled script " + name + " is broken", e);
            }
            SCRIPTS.put(expression, script);
        }
        return script.applyAsDouble(price);
    }
}
