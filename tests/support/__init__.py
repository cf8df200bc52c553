"""What the tests share: the service as a test drives it (`service`), the providers' fake
servers, a real SMTP sink, browsers, calendar parsers and signed deliveries."""
