package com.acme.torture;

import com.acme.demo.codegen.SupplierClassWriter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Stress and exit scenarios for the agent's torture tests. Every generated
 * class is {@code com.acme.torture.Gen_<thread>_<n>}, defined through a
 * fresh class loader (one per class), so the count is easy to check against
 * {@code -Xlog:class+load}.
 *
 * <pre>
 * Torture define THREADS SECONDS      define from THREADS threads, then exit 0
 * Torture exit-while-defining THREADS System.exit(3) from another thread mid-definition
 * Torture halt THREADS                Runtime.halt(4) mid-definition (no VMDeath)
 * Torture throw                       define a few, then an uncaught exception (exit 1)
 * Torture define-then-wait N          define N, print "defined N", then sleep (kill me)
 * Torture trickle SECONDS             print "ready", then define one class every 20 ms
 *                                     (a live service to attach to)
 * Torture on-stdin CODE N             print "ready"; at each line on stdin define N
 *                                     classes (each unreachable right after), run a GC
 *                                     and print "defined TOTAL"; at the end of stdin
 *                                     exit with CODE (a JVM a test can step through)
 * Torture serve CODE                  print "ready", define one class every 20 ms until
 *                                     stdin ends, then exit with CODE (a service that
 *                                     ends on request with its own exit code)
 * Torture waves THREADS WAVES N       WAVES waves, one after another, of THREADS threads
 *                                     that each define N classes through the wave's one
 *                                     loader and then end (threads that come and go)
 * </pre>
 */
public final class Torture {
    static final AtomicLong DEFINED = new AtomicLong();
    static volatile boolean stop;

    /** A loader per class: the plugin / redeploy churn pattern. */
    static final class FreshLoader extends ClassLoader {
        FreshLoader() {
            super(Torture.class.getClassLoader());
        }

        Class<?> define(String binaryName, byte[] bytes) {
            return defineClass(binaryName, bytes, 0, bytes.length);
        }
    }

    static Object generate(int thread, long n) {
        String name = "com.acme.torture.Gen_" + thread + "_" + n;
        byte[] bytes = SupplierClassWriter.write(name.replace('.', '/'), name);
        try {
            Object o = new FreshLoader().define(name, bytes).getDeclaredConstructor().newInstance();
            DEFINED.incrementAndGet();
            return o;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Defines {@code com.acme.torture.Wave_<wave>_<thread>_<n>} through a wave's shared loader. */
    static Object defineInWave(FreshLoader loader, int wave, int thread, int n) {
        String name = "com.acme.torture.Wave_" + wave + "_" + thread + "_" + n;
        byte[] bytes = SupplierClassWriter.write(name.replace('.', '/'), name);
        try {
            Object o = loader.define(name, bytes).getDeclaredConstructor().newInstance();
            DEFINED.incrementAndGet();
            return o;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    static Thread[] startDefiners(int threads, CountDownLatch started) {
        Thread[] all = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final int id = t;
            all[t] = new Thread(() -> {
                started.countDown();
                for (long n = 0; !stop; n++) {
                    ((Supplier<?>) generate(id, n)).get();
                }
            }, "definer-" + t);
            all[t].start();
        }
        return all;
    }

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "define";
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        switch (mode) {
            case "define": {
                double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 5;
                CountDownLatch started = new CountDownLatch(threads);
                Thread[] all = startDefiners(threads, started);
                started.await();
                Thread.sleep((long) (seconds * 1000));
                stop = true;
                for (Thread t : all) {
                    t.join();
                }
                System.out.println("torture: defined " + DEFINED.get());
                break;
            }
            case "exit-while-defining":
            case "halt": {
                CountDownLatch started = new CountDownLatch(threads);
                startDefiners(threads, started);
                started.await();
                Thread.sleep(300);
                boolean halt = mode.equals("halt");
                Thread killer = new Thread(() -> {
                    System.out.println("torture: defined at least " + DEFINED.get());
                    System.out.flush();
                    if (halt) {
                        Runtime.getRuntime().halt(4);
                    } else {
                        System.exit(3);
                    }
                }, "exiter");
                killer.start();
                killer.join();
                Thread.sleep(10_000); // not reached
                break;
            }
            case "throw": {
                for (int n = 0; n < 20; n++) {
                    generate(0, n);
                }
                throw new IllegalStateException("torture: uncaught on purpose");
            }
            case "define-then-wait": {
                int count = threads;
                for (int n = 0; n < count; n++) {
                    generate(0, n);
                }
                System.out.println("torture: defined " + DEFINED.get());
                System.out.flush();
                Thread.sleep(600_000);
                break;
            }
            case "trickle": {
                long end = System.nanoTime() + threads * 1_000_000_000L;
                System.out.println("torture: ready");
                System.out.flush();
                for (long n = 0; System.nanoTime() < end; n++) {
                    generate(0, n);
                    Thread.sleep(20);
                }
                System.out.println("torture: defined " + DEFINED.get());
                break;
            }
            case "on-stdin": {
                int code = threads;
                int batch = args.length > 2 ? Integer.parseInt(args[2]) : 10;
                java.io.BufferedReader in = new java.io.BufferedReader(
                        new java.io.InputStreamReader(System.in));
                System.out.println("torture: ready");
                System.out.flush();
                while (in.readLine() != null) {
                    for (int n = 0; n < batch; n++) {
                        generate(0, DEFINED.get());
                    }
                    System.gc();
                    System.out.println("torture: defined " + DEFINED.get());
                    System.out.flush();
                }
                System.exit(code);
                break;
            }
            case "serve": {
                int code = threads;
                Thread definer = new Thread(() -> {
                    try {
                        for (long n = 0; ; n++) {
                            generate(0, n);
                            Thread.sleep(20);
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }, "definer-0");
                definer.setDaemon(true);
                definer.start();
                System.out.println("torture: ready");
                System.out.flush();
                while (System.in.read() != -1) {
                    // until the caller closes stdin
                }
                System.out.println("torture: defined " + DEFINED.get());
                System.out.flush();
                System.exit(code);
                break;
            }
            case "waves": {
                int waves = args.length > 2 ? Integer.parseInt(args[2]) : 4;
                int perThread = args.length > 3 ? Integer.parseInt(args[3]) : 20;
                for (int w = 0; w < waves; w++) {
                    FreshLoader loader = new FreshLoader();
                    Thread[] wave = new Thread[threads];
                    for (int t = 0; t < threads; t++) {
                        final int wi = w;
                        final int ti = t;
                        wave[t] = new Thread(() -> {
                            for (int n = 0; n < perThread; n++) {
                                ((Supplier<?>) defineInWave(loader, wi, ti, n)).get();
                            }
                        }, "wave-" + w + "-" + t);
                        wave[t].start();
                    }
                    for (Thread t : wave) {
                        t.join();
                    }
                }
                System.out.println("torture: defined " + DEFINED.get());
                break;
            }
            default:
                throw new IllegalArgumentException("unknown mode " + mode);
        }
    }
}
