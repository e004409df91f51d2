package com.acme.demo;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Runs a harness program, then holds the JVM at its end: prints
 * {@code harness: waiting} and blocks until a line (or the end of input)
 * arrives on stdin. A test looks at the JVM meanwhile (e.g. {@code jcmd PID
 * VM.classloader_stats}) in the state the recording's end snapshot will
 * see, then releases it.
 *
 * <p>Usage: AwaitAtEnd MainClass [args...]
 */
public final class AwaitAtEnd {
    public static void main(String[] args) throws Throwable {
        Method main = Class.forName(args[0]).getMethod("main", String[].class);
        try {
            // One reflective call: below the inflation threshold, so it
            // generates no accessor of its own.
            main.invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
        System.out.println("harness: waiting");
        System.out.flush();
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    }
}
