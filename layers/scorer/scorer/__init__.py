"""scorer: self-hosted batch recommendations, written exactly as Amazon Personalize writes them.

It depends on batchrecs on purpose, and only on its pure modules: the scoring contract (``batchrecs.scoring``:
``ScoreRequest``, ``Shard``), the line reader (``batchrecs.lines``) and the one id check
(``batchrecs.records``: what validation accepts, the scorer scores), settings' defaults, the key layout and
naming's S3 helpers. It never imports batchrecs's adapters or use cases:
ScoreFunction and MergeFunction, which carry both layers, are the only places where the two meet AWS.
tests/contract/test_imports.py holds it to that."""
