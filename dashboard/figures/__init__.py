"""Pure figure builders: engine results -> Plotly figures (and the equations' LaTeX). No Streamlit.

How a figure is written: see base.py. Where each one is:
- base.py: arrays, the heatmap block, titles and layout, colour bars, the time cursor, log ticks
- forward.py: signals, hidden and cell states, gates / phi'(a_t)
- gradient.py: |dL/dh_t|, its norm and decay fit, the BPTT terms, influence, values at step t
- spectrum.py: W_hh's eigenvalues and singular values; readouts.py: one-line texts
- stack.py, views.py: plots stacked on one time axis; each Explore view as one figure
- compare.py, train.py, animation.py: the Compare and Train pages' figures, the time animation
- present.py: presentation-mode restyling; equations.py: the cell's equations in LaTeX
"""
