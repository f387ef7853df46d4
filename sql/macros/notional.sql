-- reads: nothing
-- makes: macro notional(quantity, price): a fill's value, quantity x price rounded half to even
--        to a micro unit (signed like the quantity), as the engine books it (SPEC §3)
CREATE OR REPLACE MACRO notional(quantity, price) AS round_even(quantity::DECIMAL(38, 6) * price, 6);
