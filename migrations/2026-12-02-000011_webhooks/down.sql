DROP TABLE webhook_redeliveries;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
