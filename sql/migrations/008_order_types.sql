-- reads: decisions, fills, signals
-- makes: decisions.order_type and trigger_price, fills.order_type and signals.orders (SPEC §8), for
--        warehouses created before order options existed: their runs' orders were all market
--        orders, so order_type is set to 'market' for them; trigger_price and orders stay NULL
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS order_type VARCHAR;
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS trigger_price DECIMAL(18, 6);
ALTER TABLE fills ADD COLUMN IF NOT EXISTS order_type VARCHAR;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS orders VARCHAR;
UPDATE decisions SET order_type = 'market' WHERE order_type IS NULL;
UPDATE fills SET order_type = 'market' WHERE order_type IS NULL;
