"""SMS: gateways (Twilio, Android SMS gateway, Orange, console), the durable outbox,
the booking dialogue and the provider webhooks."""
