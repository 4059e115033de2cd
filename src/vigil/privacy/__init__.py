"""Privacy by design: what a viewer sees of people (masking), what the site keeps and why."""
