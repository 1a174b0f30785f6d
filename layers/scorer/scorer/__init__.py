"""scorer: self-hosted batch recommendations, written exactly as Amazon Personalize writes them."""
