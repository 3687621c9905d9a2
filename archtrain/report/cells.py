"""A searched or derived cell as a picture: its nodes left to right, each edge an arrow named by its operation."""

from pathlib import Path

BEND = 0.5  # the curvature of an edge that skips nodes (adjacent nodes are joined straight)


def draw_cell(genotype: list, path: Path, title: str) -> Path:
    """Node 0 is the cell's input; each computed node's inputs are arrows labelled with their operation;
    dashed arrows join every computed node into the output (concatenated, then a 1x1 convolution)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = len(genotype)
    places = {node: (2.0 * node, 0.0) for node in range(nodes + 1)}
    places["out"] = (2.0 * (nodes + 1), 0.0)
    figure, ax = plt.subplots(figsize=(2.0 * (nodes + 2), 0.9 * (nodes + 2)))
    arrow = {"arrowstyle": "-|>", "shrinkA": 14, "shrinkB": 14, "color": "0.25"}
    for node, inputs in enumerate(genotype, start=1):
        for name, source in inputs:
            bend = 0.0 if node - source == 1 else BEND
            ax.annotate("", places[node], places[source], arrowprops={**arrow, "connectionstyle": f"arc3,rad={-bend}"})
            (x0, _), (x1, _) = places[source], places[node]
            ax.text((x0 + x1) / 2, bend * (x1 - x0) / 2 + 0.05, name, ha="center", fontsize=8, color="tab:blue")
        ax.annotate(
            "",
            places["out"],
            places[node],
            arrowprops={**arrow, "linestyle": "--", "color": "0.6", "connectionstyle": "arc3,rad=0.3"},
        )
    for node, (x, y) in places.items():
        label = {0: "in", "out": "out"}.get(node, str(node))
        ax.text(x, y, label, ha="center", va="center", bbox={"boxstyle": "circle", "fc": "lightyellow", "ec": "0.3"})
    span = 2.0 * (nodes + 1)  # an arc of rad r over a distance d rises r * d / 2
    ax.set_xlim(-0.8, span + 0.8)
    ax.set_ylim(-0.15 * span - 0.3, BEND * span / 2 + 0.4)
    ax.set_aspect("equal")  # arcs bend in display units: equal scales put each label on its arc
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
