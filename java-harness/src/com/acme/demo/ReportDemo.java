package com.acme.demo;

import com.acme.demo.reports.FormatterFactory;
import java.util.function.Supplier;

/**
 * Reproduces an in-house generator that defines classes with the
 * application's real protection domain under unremarkable names
 * ({@code com.acme.demo.reports.LayoutFormatter_N}): nothing in the names,
 * the loader or the code source says "generated", only that the
 * application's jar holds no such class. Each report asks the factory for
 * its layout's formatter, and the factory generates it again every time.
 *
 * <p>Usage: ReportDemo [reports] (default 200).
 */
public final class ReportDemo {
    public static void main(String[] args) {
        int reports = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        int length = 0;
        for (int i = 0; i < reports; i++) {
            length += render("invoice").length();
        }
        if (length == 0) {
            throw new AssertionError("no report rendered");
        }
        System.out.println("harness: report done");
    }

    static String render(String layout) {
        Supplier<?> formatter = FormatterFactory.formatterFor(layout);
        return String.valueOf(formatter.get());
    }
}
