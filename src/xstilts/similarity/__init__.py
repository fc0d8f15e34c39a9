"""Task similarity and transferability prediction: `xstilts similarity DIR` scores every intermediate condition
against every target by TextEmb, TaskEmb, SEmb and linear CKA, ranks the conditions per target and measures how
well each ranking predicts the gains in the store (Spearman, NDCG@k, regret@k). See docs/report.md."""
