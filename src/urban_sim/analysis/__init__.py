"""Analysis of experiments: global sensitivity (SALib bridge), scenario comparison."""
