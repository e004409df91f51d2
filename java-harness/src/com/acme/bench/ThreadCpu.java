package com.acme.bench;

import java.io.FileInputStream;
import java.io.IOException;

/**
 * CPU time of the calling thread, from Linux's per-thread scheduler
 * statistics (/proc/thread-self/schedstat: nanoseconds on a CPU). The
 * benchmark splits a JVM's CPU time into the workload's own threads and
 * the rest (JIT, GC, the agent's writer) with it; unlike
 * java.lang.management it loads no classes and starts nothing. An agent's
 * callbacks run on the thread that defines the class, so they count here.
 */
final class ThreadCpu {
    private ThreadCpu() {}

    /** Nanoseconds this thread has run, or -1 where the file is missing. */
    static long nanos() {
        byte[] buf = new byte[128];
        int n;
        try (FileInputStream in = new FileInputStream("/proc/thread-self/schedstat")) {
            n = in.read(buf);
        } catch (IOException e) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
            v = v * 10 + (buf[i] - '0');
        }
        return v;
    }

    /** The line the benchmark reads: the workload threads' CPU time. */
    static void report(long nanos) {
        if (nanos >= 0) {
            System.out.println("bench: workload_thread_cpu_ns=" + nanos);
        }
    }
}
