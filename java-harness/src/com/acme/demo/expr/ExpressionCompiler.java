package com.acme.demo.expr;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A toy expression compiler standing in for Groovy, Rhino, Nashorn, MVEL or
 * JEXL in compiled mode: it turns one pricing expression such as
 * {@code price * 1.07 + 3} into the bytes of a class with the constants
 * inlined, written by hand (no ASM: the harness is JDK-only):
 *
 * <pre>
 * public final class NAME implements java.util.function.DoubleUnaryOperator {
 *     public NAME() { super(); }
 *     public double applyAsDouble(double price) { return price * FACTOR + ADDEND; }
 *     public String toString() { return "EXPRESSION"; }
 * }
 * </pre>
 *
 * <p>Why this matters for Metaspace: because the values are part of the
 * code, two expressions that differ only in a constant are two classes. An
 * application that builds the expression text per request (string
 * concatenation instead of variables) compiles a class per distinct value.
 * Class file version 55 (Java 11); no branches, so no StackMapTable.
 */
public final class ExpressionCompiler {
    /** The one shape this engine understands: {@code price * FACTOR + ADDEND}. */
    private static final Pattern LINEAR =
            Pattern.compile("\\s*price\\s*\\*\\s*([0-9.]+)\\s*\\+\\s*([0-9.]+)\\s*");

    private ExpressionCompiler() {}

    /**
     * @param internalName the class to generate, e.g. {@code Script12}
     * @param expression e.g. {@code price * 1.07 + 3}
     */
    public static byte[] compile(String internalName, String expression) {
        Matcher m = LINEAR.matcher(expression);
        if (!m.matches()) {
            throw new IllegalArgumentException("cannot compile: " + expression);
        }
        double factor = Double.parseDouble(m.group(1));
        double addend = Double.parseDouble(m.group(2));
        try {
            ByteArrayOutputStream buf = new ByteArrayOutputStream(384);
            DataOutputStream out = new DataOutputStream(buf);
            out.writeInt(0xCAFEBABE);
            out.writeShort(0);   // minor
            out.writeShort(55);  // major: Java 11

            out.writeShort(22);  // constant_pool_count (entries 1..21; doubles take two)
            utf8(out, internalName);                        // 1
            classRef(out, 1);                               // 2  this class
            utf8(out, "java/lang/Object");                  // 3
            classRef(out, 3);                               // 4  super class
            utf8(out, "java/util/function/DoubleUnaryOperator"); // 5
            classRef(out, 5);                               // 6  interface
            utf8(out, "<init>");                            // 7
            utf8(out, "()V");                               // 8
            out.writeByte(12);                              // 9  NameAndType <init>:()V
            out.writeShort(7);
            out.writeShort(8);
            out.writeByte(10);                              // 10 Methodref Object.<init>
            out.writeShort(4);
            out.writeShort(9);
            utf8(out, "applyAsDouble");                     // 11
            utf8(out, "(D)D");                              // 12
            utf8(out, "Code");                              // 13
            out.writeByte(6);                               // 14-15 Double FACTOR
            out.writeDouble(factor);
            out.writeByte(6);                               // 16-17 Double ADDEND
            out.writeDouble(addend);
            utf8(out, expression);                          // 18
            out.writeByte(8);                               // 19 String EXPRESSION
            out.writeShort(18);
            utf8(out, "toString");                          // 20
            utf8(out, "()Ljava/lang/String;");              // 21

            out.writeShort(0x0001 | 0x0010 | 0x0020); // ACC_PUBLIC | ACC_FINAL | ACC_SUPER
            out.writeShort(2);   // this_class
            out.writeShort(4);   // super_class
            out.writeShort(1);   // interfaces_count
            out.writeShort(6);
            out.writeShort(0);   // fields_count

            out.writeShort(3);   // methods_count
            // public <init>()V { aload_0; invokespecial Object.<init>; return }
            method(out, 7, 8, 1, 1, new byte[] {0x2a, (byte) 0xb7, 0x00, 0x0a, (byte) 0xb1});
            // public applyAsDouble(D)D { dload_1; ldc2_w FACTOR; dmul; ldc2_w ADDEND; dadd; dreturn }
            method(out, 11, 12, 4, 3, new byte[] {
                0x27, 0x14, 0x00, 0x0e, 0x6b, 0x14, 0x00, 0x10, 0x63, (byte) 0xaf});
            // public toString()Ljava/lang/String; { ldc EXPRESSION; areturn }
            method(out, 20, 21, 1, 1, new byte[] {0x12, 0x13, (byte) 0xb0});

            out.writeShort(0);   // class attributes_count
            out.flush();
            return buf.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // cannot happen with a byte array
        }
    }

    private static void utf8(DataOutputStream out, String s) throws IOException {
        out.writeByte(1);
        out.writeUTF(s);
    }

    private static void classRef(DataOutputStream out, int nameIndex) throws IOException {
        out.writeByte(7);
        out.writeShort(nameIndex);
    }

    private static void method(DataOutputStream out, int name, int descriptor,
            int maxStack, int maxLocals, byte[] code) throws IOException {
        out.writeShort(0x0001);  // ACC_PUBLIC
        out.writeShort(name);
        out.writeShort(descriptor);
        out.writeShort(1);       // attributes_count
        out.writeShort(13);      // "Code"
        out.writeInt(2 + 2 + 4 + code.length + 2 + 2);
        out.writeShort(maxStack);
        out.writeShort(maxLocals);
        out.writeInt(code.length);
        out.write(code);
        out.writeShort(0);       // exception_table_length
        out.writeShort(0);       // attributes_count
    }
}
