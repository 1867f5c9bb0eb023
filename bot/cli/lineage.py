"""`oncall-bot lineage`: which pipeline's data feeds which, declared in the runbook or seen in datasets."""

from __future__ import annotations

import json

from bot.cli.common import load_args, store_dataset_edges


def cmd_lineage(args) -> int:
    from bot.domain.lineage import lineage_of

    rb = load_args(args).runbook
    rows = store_dataset_edges()
    datasets: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for writer, reader, namespace, name in rows:
        datasets.setdefault((writer, reader), []).append((namespace, name))
    graph = lineage_of(rb, datasets.keys())
    edges = [{"from": a, "to": b, "how": graph.how(a, b),
              "datasets": [{"namespace": ns, "name": name} for ns, name in datasets.get((a, b), [])]}
             for a, b in sorted(graph.edges)]
    if args.json:
        print(json.dumps({
            "pipelines": {key: {"name": p.name, "upstream": graph.upstream(key), "feeds": graph.feeds(key)}
                          for key, p in rb.pipelines.items()},
            "edges": edges,
        }, indent=2))
        return 0
    why = {(e["from"], e["to"]): _why(e) for e in edges}
    declared = sum(e["how"] == "declared" for e in edges)
    if edges:
        print(f"Lineage of {rb.team.name}'s pipelines: {declared} edge(s) declared in depends_on, "
              f"{len(edges) - declared} seen in OpenLineage datasets")
    else:
        print(f"Lineage of {rb.team.name}'s pipelines: no edges (declare depends_on in the runbook, or send "
              f"OpenLineage events with inputs and outputs)")
    for key, p in rb.pipelines.items():
        print(f"{key} ({p.name})")
        for label, others in (("upstream", [(o, why[o, key]) for o in graph.upstream(key)]),
                              ("feeds", [(o, why[key, o]) for o in graph.feeds(key)])):
            print(f"  {label}: {', '.join(f'{o} ({how})' for o, how in others) or '-'}")
    return 0


def _why(edge: dict) -> str:
    """"declared", "datasets: ns/name, …", or both when the runbook declares an edge the datasets show too."""
    names = ", ".join(f"{d['namespace']}/{d['name']}" for d in edge["datasets"])
    if edge["how"] == "declared":
        return f"declared; datasets: {names}" if names else "declared"
    return f"datasets: {names}"
