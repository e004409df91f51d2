package com.acme.bench;

/**
 * Start-up cost probe for the benchmark (bench/): a main that does nothing,
 * so the wall time of the JVM run is the JVM's (and an agent's) fixed
 * start-up and shutdown cost.
 */
public final class Trivial {
    public static void main(String[] args) {
        System.out.println("bench: trivial done");
    }
}
