#!/usr/bin/python3
"""How well can a classifier do on a health dataset given every recorded symptom (issue 17's evaluation).

The inquiry protocol reveals at most five of a consultation's recorded (`implicit`) symptoms; a classifier given all
of them, and the volunteered (`explicit`) ones, is an upper reference for any inquiry over the same symptom lists.
Five standard classifiers from scikit-learn, 5-fold cross-validation on the training split with five fold seeds.
Each symptom is two indicators (recorded present, recorded absent); an unrecorded symptom is neither.

An evaluation aid, not part of `make test`: needs Debian's python3-sklearn (`apt-get install python3-sklearn`).
Usage: scripts/clinic_ceiling.py [DATA_DIR]   (default ../shared/data/health)
"""
import json
import os
import sys

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.naive_bayes import BernoulliNB

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "health")
models = {
    "logistic regression (C 1)": lambda: LogisticRegression(C=1, max_iter=2000),
    "logistic regression (C 0.3)": lambda: LogisticRegression(C=0.3, max_iter=2000),
    "random forest (500 trees)": lambda: RandomForestClassifier(500, random_state=0),
    "gradient boosting": lambda: GradientBoostingClassifier(random_state=0),
    "Bernoulli naive Bayes": lambda: BernoulliNB(),
}
for name in ["dxy", "muzhi"]:
    path = os.path.join(root, name, "train.json")
    if not os.path.exists(path):
        print(f"{path} is absent: skipped")
        continue
    cases = json.load(open(path, encoding="utf-8"))
    symptoms = sorted({s for c in cases for s in list(c["explicit"]) + list(c.get("implicit", {}))})
    diseases = sorted({c["disease"] for c in cases})
    for full in (False, True):
        x = np.zeros((len(cases), 2 * len(symptoms)))
        for i, c in enumerate(cases):
            known = dict(c["explicit"])
            if full:
                known.update(c.get("implicit", {}))
            for k, s in enumerate(symptoms):
                if s in known:
                    x[i, 2 * k + (0 if known[s] else 1)] = 1
        y = np.array([diseases.index(c["disease"]) for c in cases])
        for label, make in models.items():
            scores = [cross_val_score(make(), x, y, cv=KFold(5, shuffle=True, random_state=seed)).mean()
                      for seed in range(1, 6)]
            given = "every recorded symptom" if full else "volunteered only"
            print(f"| {name} | {given} | {label} | {np.mean(scores):.3f} ({min(scores):.3f}-{max(scores):.3f}) |",
                  flush=True)
