package org.minilisp;

import java.security.ProtectionDomain;
import java.util.function.Supplier;

/**
 * A tiny interpreter that compiles every form it evaluates: {@link #eval}
 * turns the form into two classes, a function and its constants, defined in
 * a fresh {@link FnLoader} with the interpreter's own protection domain (so
 * they claim to come from this jar, which holds no such classes). Evaluating
 * a form that inlines request values compiles a new function per request;
 * {@link #compile} once and {@link Fn#call} with arguments is the cure.
 */
public final class Interpreter {
    private static final ProtectionDomain DOMAIN = Interpreter.class.getProtectionDomain();
    private static int compiled;

    /** A compiled form. */
    public static final class Fn {
        private final Supplier<?> body;
        private final Supplier<?> constants;

        Fn(Supplier<?> body, Supplier<?> constants) {
            this.body = body;
            this.constants = constants;
        }

        public Object call(Object... args) {
            return body.get() + ":" + constants.get() + ":" + args.length;
        }
    }

    /** Compiles and runs `form`. */
    public Object eval(String form) {
        return compile(form).call();
    }

    /** Compiles `form` into a function: two classes in a loader of their own. */
    public synchronized Fn compile(String form) {
        int n = ++compiled;
        String fn = "org/minilisp/gen/Fn" + n;
        FnLoader loader = new FnLoader(Interpreter.class.getClassLoader());
        Supplier<?> body = loader.instantiate(fn, ClassWriter.supplier(fn, form), DOMAIN);
        Supplier<?> constants = loader.instantiate(
                fn + "$Consts", ClassWriter.supplier(fn + "$Consts", "consts of " + form), DOMAIN);
        return new Fn(body, constants);
    }
}
