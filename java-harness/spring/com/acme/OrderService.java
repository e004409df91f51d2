package com.acme;

import org.springframework.beans.BeanUtils;

/**
 * The application code a Metaspace profiler should point at: it maps
 * entities to DTOs with Spring's BeanUtils.copyProperties, which calls every
 * getter and setter through Method.invoke. Each Method inflates to a
 * GeneratedMethodAccessorN class after 15 calls (JDK <= 17, or JDK 18-21
 * with -Djdk.reflect.useDirectMethodHandle=false).
 */
public class OrderService {
    /** The copyProperties call below is the line to blame. */
    public OrderDto toDto(Order order) {
        OrderDto dto = new OrderDto();
        BeanUtils.copyProperties(order, dto);
        return dto;
    }
}
