package com.acme.demo;

import java.math.BigDecimal;

/**
 * The "API" side of the copier demo: same ten properties as {@link Order},
 * a separate class, as DTOs usually are. The copier finds matching
 * properties by name, so the two classes only share names and types.
 */
public class OrderDto {
    private long id;
    private String customer;
    private String status;
    private int quantity;
    private BigDecimal price;
    private String currency;
    private String sku;
    private String warehouse;
    private boolean express;
    private long createdAt;

    public long getId() { return id; }
    public void setId(long id) { this.id = id; }
    public String getCustomer() { return customer; }
    public void setCustomer(String customer) { this.customer = customer; }
    public String getStatus() { return status; }
    public void setStatus(String status) { this.status = status; }
    public int getQuantity() { return quantity; }
    public void setQuantity(int quantity) { this.quantity = quantity; }
    public BigDecimal getPrice() { return price; }
    public void setPrice(BigDecimal price) { this.price = price; }
    public String getCurrency() { return currency; }
    public void setCurrency(String currency) { this.currency = currency; }
    public String getSku() { return sku; }
    public void setSku(String sku) { this.sku = sku; }
    public String getWarehouse() { return warehouse; }
    public void setWarehouse(String warehouse) { this.warehouse = warehouse; }
    public boolean isExpress() { return express; }
    public void setExpress(boolean express) { this.express = express; }
    public long getCreatedAt() { return createdAt; }
    public void setCreatedAt(long createdAt) { this.createdAt = createdAt; }
}
