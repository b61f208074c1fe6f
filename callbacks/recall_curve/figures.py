"""Figure of the `RecallCurve` Callback (matplotlib only): recall against cue corruption per network
size, and the Hebbian Hopfield capacity sweep."""

from __future__ import annotations

from neurobolts.plugins.figures import pyplot

HOPFIELD_CAPACITY = 0.138  # Amit, Gutfreund & Sompolinsky (1985)


def recall_curve_figure(model_records: list[dict], hopfield_records: list[dict], capacity_records: list[dict],
                        variant_records: list[dict] = ()):
    """Two panels: (a) P(exact) vs p per N, model (solid), variants (dotted) and Hopfield (dashed);
    (b) Hopfield exact recall and bit accuracy vs K / N with the 0.138 N capacity."""
    plt = pyplot()

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    sizes = sorted({r["n_neurons"] for r in model_records})
    colors = plt.cm.viridis([i / max(1, len(sizes) - 1) * 0.85 for i in range(len(sizes))])
    for n, color in zip(sizes, colors, strict=True):
        rows = [r for r in model_records if r["n_neurons"] == n]
        ax.plot([100 * r["flip_fraction"] for r in rows], [r["exact_recall"] for r in rows], "o-", color=color,
                label=f"expander N={n}: 2^{rows[0]['log2_stored_states']:g} states, {rows[0]['trials']} trials/pt")
        for label in sorted({r["label"] for r in variant_records}):
            rows = [r for r in variant_records if r["label"] == label and r["n_neurons"] == n]
            ax.plot([100 * r["flip_fraction"] for r in rows], [r["exact_recall"] for r in rows], "^:", color=color,
                    label=f"{label} N={n}")
        base = [r for r in hopfield_records if r["n_neurons"] == n]
        if base:
            ax.plot([100 * r["flip_fraction"] for r in base], [r["exact_recall"] for r in base], "x--", color=color,
                    label=f"Hopfield N={n}: K={base[0]['n_patterns']} patterns")
    ax.set_xlabel("flipped bits in the cue, p (%)")
    ax.set_ylabel("P(exact recall)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=6.5)
    ax.set_title("(a) exact recall vs cue corruption", fontsize=9)
    if capacity_records:
        loads = [r["n_patterns"] / r["n_neurons"] for r in capacity_records]
        bx.plot(loads, [r["exact_recall"] for r in capacity_records], "o-", label="P(exact recall)")
        bx.plot(loads, [r["bit_accuracy"] for r in capacity_records], "s-", label="fraction of correct bits")
        bx.axvline(HOPFIELD_CAPACITY, color="k", ls=":", label="0.138 N")
        first = capacity_records[0]
        bx.set_title(f"(b) Hebbian Hopfield, N={first['n_neurons']}, p={100 * first['flip_fraction']:g}%, "
                     f"{first['trials']} trials/pt", fontsize=9)
        bx.set_xlabel("stored patterns K / N")
        bx.set_ylim(-0.03, 1.03)
        bx.legend(fontsize=7)
    fig.tight_layout()
    return fig
