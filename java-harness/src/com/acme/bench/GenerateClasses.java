package com.acme.bench;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;

/**
 * Workload (b) of the benchmark: many generated classes from several
 * threads. Each thread defines {@code perThread} classes and:
 * <ol>
 * <li>builds the bytes of a small class {@code bench.dyn.T<t>C<i>} (one
 *     {@code public static int v()}) and defines it through a custom loader
 *     without a ProtectionDomain (a fresh loader every {@value #CLASSES_PER_LOADER}
 *     classes): a "runtime_defined" class;</li>
 * <li>for every second class, calls {@code v()} once through
 *     {@code Method.invoke}. Run with {@code -Dsun.reflect.noInflation=true}
 *     (JDK &lt;= 17), that first call generates a
 *     {@code jdk.internal.reflect.GeneratedMethodAccessorN}, and
 *     instantiating it through reflection generates a
 *     {@code GeneratedConstructorAccessorN}: two "reflection_accessor"
 *     classes. Every method is distinct, so every such call generates them.</li>
 * </ol>
 * So {@code threads * perThread * 2} classes are generated in total, half
 * defined by custom loaders, half reflection accessors.
 *
 * <p>Usage: GenerateClasses threads perThread (perThread even).
 */
public final class GenerateClasses {
    static final int CLASSES_PER_LOADER = 100;

    /** A loader that defines classes from bytes, with no code source. */
    static final class GenLoader extends ClassLoader {
        GenLoader() {
            super(GenerateClasses.class.getClassLoader());
        }

        Class<?> define(String name, byte[] bytes) {
            return defineClass(name, bytes, 0, bytes.length);
        }
    }

    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        int perThread = Integer.parseInt(args[1]);
        List<Thread> workers = new ArrayList<>();
        long[] sums = new long[threads];
        long[] cpus = new long[threads];
        Throwable[] failures = new Throwable[threads];
        for (int t = 0; t < threads; t++) {
            final int id = t;
            Thread worker = new Thread(() -> {
                try {
                    long cpu = ThreadCpu.nanos();
                    sums[id] = generate(id, perThread);
                    cpus[id] = cpu < 0 ? -1 : ThreadCpu.nanos() - cpu;
                } catch (Throwable e) {
                    failures[id] = e;
                }
            }, "gen-" + t);
            workers.add(worker);
            worker.start();
        }
        long total = 0;
        long cpu = 0;
        for (int t = 0; t < threads; t++) {
            workers.get(t).join();
            if (failures[t] != null) {
                throw new RuntimeException("worker " + t + " failed", failures[t]);
            }
            total += sums[t];
            cpu = cpu < 0 || cpus[t] < 0 ? -1 : cpu + cpus[t];
        }
        ThreadCpu.report(cpu);
        System.out.println("bench: generated " + (2L * threads * perThread) + " classes (" + total + ")");
    }

    static long generate(int thread, int count) throws Exception {
        GenLoader loader = null;
        long sum = 0;
        for (int i = 0; i < count; i++) {
            if (i % CLASSES_PER_LOADER == 0) {
                loader = new GenLoader();
            }
            String name = "bench.dyn.T" + thread + "C" + i;
            Class<?> c = loader.define(name, classBytes(name.replace('.', '/'), i));
            Method v = c.getMethod("v");
            if (i % 2 == 0) {
                sum += (Integer) v.invoke(null);
            } else {
                sum += v.getModifiers();
            }
        }
        return sum;
    }

    /**
     * A class file (version 52) for {@code public class NAME} with
     * {@code public static int v() { return value; }}.
     */
    static byte[] classBytes(String internalName, int value) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(160);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(0xCAFEBABE);
        out.writeShort(0); // minor
        out.writeShort(52); // major: Java 8, no StackMapTable needed
        out.writeShort(9); // constant pool count (entries 1..8)
        out.writeByte(1); out.writeUTF(internalName);        // #1
        out.writeByte(7); out.writeShort(1);                 // #2 Class this
        out.writeByte(1); out.writeUTF("java/lang/Object");  // #3
        out.writeByte(7); out.writeShort(3);                 // #4 Class super
        out.writeByte(1); out.writeUTF("v");                 // #5
        out.writeByte(1); out.writeUTF("()I");               // #6
        out.writeByte(1); out.writeUTF("Code");              // #7
        out.writeByte(3); out.writeInt(value);               // #8 Integer
        out.writeShort(0x0021); // public super
        out.writeShort(2);
        out.writeShort(4);
        out.writeShort(0); // interfaces
        out.writeShort(0); // fields
        out.writeShort(1); // methods
        out.writeShort(0x0009); // public static
        out.writeShort(5);
        out.writeShort(6);
        out.writeShort(1); // attributes
        out.writeShort(7); // Code
        out.writeInt(2 + 2 + 4 + 3 + 2 + 2);
        out.writeShort(1); // max_stack
        out.writeShort(0); // max_locals
        out.writeInt(3); // code_length
        out.writeByte(0x12); out.writeByte(8); // ldc #8
        out.writeByte(0xAC); // ireturn
        out.writeShort(0); // exception table
        out.writeShort(0); // code attributes
        out.writeShort(0); // class attributes
        out.flush();
        return bytes.toByteArray();
    }
}
