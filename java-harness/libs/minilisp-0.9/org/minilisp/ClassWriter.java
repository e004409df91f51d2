package org.minilisp;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Writes the bytes of a tiny class by hand (no ASM, the harness is JDK-only):
 *
 * <pre>
 * public final class NAME implements java.util.function.Supplier {
 *     public NAME() { super(); }
 *     public Object get() { return VALUE; }
 * }
 * </pre>
 *
 * The interpreter's own code generator (a copy of the harness's writer:
 * the library depends on the JDK only). Class file version 55 (Java 11); the methods have no branches, so
 * no StackMapTable is needed.
 */
final class ClassWriter {
    private ClassWriter() {}

    /** @param internalName e.g. {@code com/acme/demo/codegen/Serializer_1} */
    static byte[] supplier(String internalName, String value) {
        try {
            ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
            DataOutputStream out = new DataOutputStream(buf);
            out.writeInt(0xCAFEBABE);
            out.writeShort(0);   // minor version
            out.writeShort(55);  // major version: Java 11

            // Constant pool (index: entry).
            out.writeShort(16);  // count = highest index + 1
            utf8(out, internalName);                 // 1
            classRef(out, 1);                        // 2  this class
            utf8(out, "java/lang/Object");           // 3
            classRef(out, 3);                        // 4  super class
            utf8(out, "java/util/function/Supplier"); // 5
            classRef(out, 5);                        // 6  interface
            utf8(out, "<init>");                     // 7
            utf8(out, "()V");                        // 8
            out.writeByte(12);                       // 9  NameAndType <init>:()V
            out.writeShort(7);
            out.writeShort(8);
            out.writeByte(10);                       // 10 Methodref Object.<init>
            out.writeShort(4);
            out.writeShort(9);
            utf8(out, "get");                        // 11
            utf8(out, "()Ljava/lang/Object;");       // 12
            utf8(out, "Code");                       // 13
            utf8(out, value);                        // 14
            out.writeByte(8);                        // 15 String VALUE
            out.writeShort(14);

            out.writeShort(0x0001 | 0x0010 | 0x0020); // ACC_PUBLIC | ACC_FINAL | ACC_SUPER
            out.writeShort(2);   // this_class
            out.writeShort(4);   // super_class
            out.writeShort(1);   // interfaces_count
            out.writeShort(6);
            out.writeShort(0);   // fields_count

            out.writeShort(2);   // methods_count
            // public <init>()V { aload_0; invokespecial Object.<init>; return }
            method(out, 7, 8, new byte[] {0x2a, (byte) 0xb7, 0x00, 0x0a, (byte) 0xb1});
            // public get()Ljava/lang/Object; { ldc VALUE; areturn }
            method(out, 11, 12, new byte[] {0x12, 0x0f, (byte) 0xb0});

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

    /** A public method with max_stack = max_locals = 1 and the given code. */
    private static void method(DataOutputStream out, int name, int descriptor, byte[] code)
            throws IOException {
        out.writeShort(0x0001);  // ACC_PUBLIC
        out.writeShort(name);
        out.writeShort(descriptor);
        out.writeShort(1);       // attributes_count
        out.writeShort(13);      // "Code"
        out.writeInt(2 + 2 + 4 + code.length + 2 + 2);
        out.writeShort(1);       // max_stack
        out.writeShort(1);       // max_locals
        out.writeInt(code.length);
        out.write(code);
        out.writeShort(0);       // exception_table_length
        out.writeShort(0);       // attributes_count
    }
}
