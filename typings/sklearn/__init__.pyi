# The part of scikit-learn that gdfast imports; see typings/README.md.
