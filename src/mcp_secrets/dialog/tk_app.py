"""The Tk credentials window: stdlib only, so it runs wherever Python's Tk does.

It knows nothing of storage or MCP: it shows a `Template` and returns the values typed in,
or None when the human cancels, closes the window, or the process that asked goes away.
"""

from __future__ import annotations

import os
import sys
import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont
from tkinter import ttk

from mcp_secrets.dialog.protocol import (
    Field,
    Template,
    build_result,
    clean_value,
    field_problem,
    result_too_large,
)
from mcp_secrets.errors import DialogError, NoDisplayError, TemplateError

PARENT_POLL_MS = 500
TOPMOST_MS = 400
MASK = "\u2022"
#: Room kept free above and below the window (title bar, panels), in pixels.
SCREEN_MARGIN = 120

# A calm, neutral palette: white fields on a light grey window, one blue accent.
BG = "#f3f4f6"
FIELD_BG = "#ffffff"
TEXT = "#1f2328"
MUTED = "#5c6370"
HINT = "#9aa0a6"
ERROR = "#c62828"
ACCENT = "#1a62c7"
CODE_BG = "#e8f0fe"
CODE_BORDER = "#aac4f5"


class _Row:
    """One text-like field: its entry, placeholder overlay, and inline error label."""

    def __init__(self, app: DialogApp, parent: ttk.Frame, f: Field, row: int) -> None:
        self.field = f
        self.touched = False
        label = f.display_label + ("  *" if f.required else "")
        ttk.Label(parent, text=label, style="FieldLabel.TLabel").grid(
            row=row, column=0, columnspan=2, sticky="w", pady=(10, 2)
        )
        self._build(app, parent, f, row)
        if f.help_text:
            ttk.Label(parent, text=f.help_text, style="Help.TLabel", wraplength=380).grid(
                row=row + 2, column=0, columnspan=2, sticky="w", pady=(2, 0)
            )
        self.error = ttk.Label(parent, text="", style="Error.TLabel", wraplength=380)
        self.error.grid(row=row + 3, column=0, columnspan=2, sticky="w")
        self.error.grid_remove()

    @property
    def focus_target(self) -> tk.Misc:
        """The widget that takes the keyboard focus for this field."""
        return self.entry

    def select_all(self) -> None:
        self.entry.focus_set()
        self.entry.select_range(0, "end")

    def _build(self, app: DialogApp, parent: ttk.Frame, f: Field, row: int) -> None:
        self.entry = ttk.Entry(parent, width=42, style="Dialog.TEntry", font=app.entry_font)
        self.entry.grid(row=row + 1, column=0, sticky="ew", ipady=3)
        if f.field_type == "password":
            self.entry.configure(show=MASK)
            self.shown = tk.BooleanVar(value=False)
            self.toggle = ttk.Checkbutton(
                parent, text="Show", variable=self.shown, command=self.apply_visibility,
                takefocus=False, style="Dialog.TCheckbutton", underline=0,
            )
            self.toggle.grid(row=row + 1, column=1, sticky="w", padx=(8, 0))
        if f.default:
            self.entry.insert(0, f.default)
        self.placeholder: tk.Label | None = None
        if f.placeholder:
            self.placeholder = tk.Label(
                self.entry, text=f.placeholder, fg=HINT, bg=FIELD_BG, font=app.entry_font,
                padx=0, pady=0, bd=0,
            )
            self.placeholder.bind("<Button-1>", lambda _e: self.entry.focus_set())
        self.entry.bind("<FocusIn>", lambda _e: self.refresh_placeholder(), add="+")
        self.entry.bind("<FocusOut>", self._on_focus_out, add="+")
        self.entry.bind("<KeyRelease>", self._on_key, add="+")
        self.refresh_placeholder()

    # -- placeholder: an overlay label, so the hint can never become the entry's value
    def refresh_placeholder(self) -> None:
        if self.placeholder is None:
            return
        focused = self.entry.focus_get() is self.entry
        if self.entry.get() or focused:
            self.placeholder.place_forget()
        else:
            self.placeholder.place(x=6, rely=0.5, anchor="w")

    def apply_visibility(self) -> None:
        self.entry.configure(show="" if self.shown.get() else MASK)

    def value(self) -> str:
        return self.entry.get()

    def problem(self) -> str | None:
        return field_problem(self.field, self.value())

    def show_problem(self, problem: str | None) -> None:
        if problem:
            self.error.configure(text=f"\u26a0 {problem[:1].upper()}{problem[1:]}")
            self.error.grid()
        else:
            self.error.configure(text="")
            self.error.grid_remove()

    def _on_focus_out(self, _event: object) -> None:
        self.refresh_placeholder()
        # Check a URL/e-mail as soon as the human leaves it, not only on submit.
        if self.field.field_type in ("url", "email") and clean_value(self.field, self.value()):
            self.touched = True
            self.show_problem(self.problem())

    def _on_key(self, _event: object) -> None:
        self.refresh_placeholder()
        if self.touched:  # once an error was shown, clear it live as soon as it is fixed
            self.show_problem(self.problem())


class _ChoiceRow(_Row):
    """A choice field: one radio button per option, one tab stop for the whole group.

    Keyboard: Tab reaches the group (the chosen option, else the first), Up/Down/Left/Right
    move and choose, Space chooses the focused option, Enter submits the form.
    """

    def _build(self, app: DialogApp, parent: ttk.Frame, f: Field, row: int) -> None:
        self.choice = tk.StringVar(master=app.root, value=f.default or "")
        group = ttk.Frame(parent, style="Dialog.TFrame")
        group.grid(row=row + 1, column=0, columnspan=2, sticky="w")
        self.buttons: list[ttk.Radiobutton] = []
        for i, option in enumerate(f.options or ()):
            button = ttk.Radiobutton(
                group, text=option, value=option, variable=self.choice,
                style="Dialog.TRadiobutton", takefocus=self._takes_focus,
                command=self._on_choose,
            )
            button.grid(row=i, column=0, sticky="w", pady=1)
            for key, step in (("<Down>", 1), ("<Right>", 1), ("<Up>", -1), ("<Left>", -1)):
                button.bind(key, self._mover(i, step))
            self.buttons.append(button)

    def _mover(self, at: int, by: int) -> Callable[[object], str]:
        return lambda _event: self._move(at, by)

    def _takes_focus(self, widget: str) -> bool:
        # Tk asks each button during Tab traversal: only the group's current one says yes.
        return str(self.focus_target) == widget

    @property
    def focus_target(self) -> tk.Misc:
        chosen = self.choice.get()
        for button in self.buttons:
            if button.cget("value") == chosen:
                return button
        return self.buttons[0]

    def select_all(self) -> None:
        self.focus_target.focus_set()

    def _move(self, at: int, by: int) -> str:
        target = self.buttons[(at + by) % len(self.buttons)]
        target.invoke()
        target.focus_set()
        return "break"

    def _on_choose(self) -> None:
        if self.touched:
            self.show_problem(self.problem())

    def refresh_placeholder(self) -> None:
        return

    def value(self) -> str:
        return self.choice.get()


class DialogApp:
    """Builds the window for one template; `result` is set when the human presses OK."""

    def __init__(self, root: tk.Tk, template: Template, parent_pid: int | None = None) -> None:
        self.root = root
        self.template = template
        self.result: dict[str, str] | None = None
        self.failure: str | None = None
        self._parent_pid = os.getppid() if parent_pid is None else parent_pid
        self._setup_style()
        root.title(template.title)
        root.configure(bg=BG)
        root.resizable(False, False)
        root.protocol("WM_DELETE_WINDOW", self.cancel)
        root.report_callback_exception = self._on_callback_error

        outer = ttk.Frame(root, padding=(22, 18, 22, 16), style="Dialog.TFrame")
        outer.grid(sticky="nsew")
        outer.columnconfigure(0, weight=1)
        self._header(outer)
        form = self._scroll_area(outer)
        self.rows = [(_ChoiceRow if f.field_type == "choice" else _Row)(self, form, f, i * 4)
                     for i, f in enumerate(template.fields)]
        self.form_error = ttk.Label(outer, text="", style="Error.TLabel", wraplength=460)
        self.form_error.grid(row=15, column=0, sticky="w", pady=(8, 0))
        self.form_error.grid_remove()
        self._buttons(outer)

        for seq in ("<Return>", "<KP_Enter>"):
            root.bind(seq, lambda _e: self.submit())
        root.bind("<Escape>", lambda _e: self.cancel())
        root.bind("<Alt-s>", self._toggle_focused_password)
        root.bind("<Alt-S>", self._toggle_focused_password)

    # ------------------------------------------------------------------ construction
    def _scroll_area(self, outer: ttk.Frame) -> ttk.Frame:
        """The fields sit in a canvas: as tall as they need up to what the screen allows,
        then a scroll bar (a 50-field template must not open taller than the screen)."""
        area = ttk.Frame(outer, style="Dialog.TFrame")
        area.grid(row=10, column=0, sticky="ew")
        area.columnconfigure(0, weight=1)
        self.canvas = tk.Canvas(area, bg=BG, highlightthickness=0, bd=0)
        self.canvas.grid(row=0, column=0, sticky="nsew")
        self.scrollbar = ttk.Scrollbar(area, orient="vertical", command=self.canvas.yview)
        self.scrollbar.grid(row=0, column=1, sticky="ns", padx=(6, 0))
        self.scrollbar.grid_remove()
        self.canvas.configure(yscrollcommand=self.scrollbar.set)
        form = ttk.Frame(self.canvas, style="Dialog.TFrame")
        form.columnconfigure(0, weight=1)
        self.canvas.create_window(0, 0, window=form, anchor="nw")
        self.form = form
        form.bind("<Configure>", lambda _e: self._fit(), add="+")
        self.root.bind_all("<FocusIn>", self._scroll_to_focus, add="+")
        for seq in ("<Button-4>", "<Button-5>", "<MouseWheel>"):
            self.root.bind_all(seq, self._on_wheel, add="+")
        return form

    def form_budget(self) -> int:
        """The tallest the field area may be: the screen minus the rest of the window."""
        self.root.update_idletasks()
        rest = self.root.winfo_reqheight() - self.canvas.winfo_reqheight()
        return max(self.root.winfo_screenheight() - SCREEN_MARGIN - rest, 120)

    def _fit(self) -> None:
        budget = self.form_budget()  # first: it settles pending geometry (and may re-enter)
        form = self.form
        width, height = form.winfo_reqwidth(), form.winfo_reqheight()
        self.canvas.configure(width=width, height=min(height, budget),
                              scrollregion=(0, 0, width, height))
        if height > budget:
            self.scrollbar.grid()
        else:
            self.scrollbar.grid_remove()
            self.canvas.yview_moveto(0)

    def _scroll_to_focus(self, event: tk.Event[tk.Misc]) -> None:
        widget = event.widget
        if not isinstance(widget, tk.Misc) or not str(widget).startswith(str(self.form)):
            return
        total = self.form.winfo_height()
        view = self.canvas.winfo_height()
        if total <= view or total <= 1:
            return
        top = widget.winfo_rooty() - self.form.winfo_rooty()
        bottom = top + widget.winfo_height()
        # Keep the field's label (above it) and its error line (below) in view as well.
        top, bottom = max(top - 30, 0), min(bottom + 24, total)
        first = self.canvas.canvasy(0)
        if top < first:
            self.canvas.yview_moveto(top / total)
        elif bottom > first + view:
            self.canvas.yview_moveto((bottom - view) / total)

    def _on_wheel(self, event: tk.Event[tk.Misc]) -> None:
        if not self.scrollbar.winfo_ismapped():
            return
        if event.num == 4 or event.delta > 0:
            self.canvas.yview_scroll(-2, "units")
        else:
            self.canvas.yview_scroll(2, "units")

    def _setup_style(self) -> None:
        style = ttk.Style(self.root)
        if sys.platform not in ("darwin", "win32") and "clam" in style.theme_names():
            style.theme_use("clam")
        base = tkfont.nametofont("TkDefaultFont")
        size = max(int(base.actual("size")), 10)
        family = base.actual("family")
        base.configure(size=size)
        self.entry_font = tkfont.Font(root=self.root, family=family, size=size + 1)
        self.title_font = tkfont.Font(root=self.root, family=family, size=size + 4, weight="bold")
        self.label_font = tkfont.Font(root=self.root, family=family, size=size, weight="bold")
        self.small_font = tkfont.Font(root=self.root, family=family, size=size - 1)
        mono = "Menlo" if sys.platform == "darwin" else "Consolas" if sys.platform == "win32" \
            else "DejaVu Sans Mono"
        self.code_font = tkfont.Font(root=self.root, family=mono, size=size + 12, weight="bold")
        style.configure("Dialog.TFrame", background=BG)
        style.configure("TLabel", background=BG, foreground=TEXT)
        style.configure("Title.TLabel", font=self.title_font)
        style.configure("Desc.TLabel", foreground=TEXT)
        style.configure("FieldLabel.TLabel", font=self.label_font)
        style.configure("Help.TLabel", foreground=MUTED, font=self.small_font)
        style.configure("Error.TLabel", foreground=ERROR, font=self.small_font)
        style.configure("Dialog.TCheckbutton", background=BG, foreground=MUTED)
        style.map("Dialog.TCheckbutton", background=[("active", BG)])
        style.configure("Dialog.TRadiobutton", background=BG, foreground=TEXT,
                        font=self.entry_font, padding=(2, 2))
        style.map("Dialog.TRadiobutton", background=[("active", BG)])
        style.configure("Dialog.TEntry", fieldbackground=FIELD_BG, padding=(5, 2))
        style.map("Dialog.TEntry", bordercolor=[("focus", ACCENT)],
                  lightcolor=[("focus", ACCENT)])
        style.configure("TButton", padding=(14, 5))
        style.configure("Accent.TButton", background=ACCENT, foreground="#ffffff",
                        bordercolor=ACCENT, font=self.label_font)
        style.map("Accent.TButton", background=[("active", "#1550a3"), ("pressed", "#123f80")])

    def _header(self, outer: ttk.Frame) -> None:
        ttk.Label(outer, text=self.template.title, style="Title.TLabel", wraplength=460).grid(
            row=0, column=0, sticky="w"
        )
        description = self.template.description
        code = self.template.verification_code
        if code:
            caption = "Verification code"
            lines = description.splitlines()
            for i, line in enumerate(lines):
                if code in line:
                    rest = line.replace(code, "").strip().rstrip(":").strip()
                    caption = rest or caption
                    description = "\n".join(lines[:i] + lines[i + 1 :]).strip("\n")
                    break
            box = tk.Frame(outer, bg=CODE_BG, highlightthickness=1,
                           highlightbackground=CODE_BORDER, padx=14, pady=8)
            box.grid(row=1, column=0, sticky="ew", pady=(12, 0))
            tk.Label(box, text=caption, bg=CODE_BG, fg=MUTED, font=self.small_font).pack(
                anchor="w"
            )
            tk.Label(box, text=code, bg=CODE_BG, fg=ACCENT, font=self.code_font).pack(anchor="w")
            if "same code" not in description.lower():  # the template may say it already
                tk.Label(box, text="Check that your MCP client shows the same code before you "
                         "answer.", bg=CODE_BG, fg=MUTED, font=self.small_font).pack(anchor="w")
        if description.strip():
            ttk.Label(outer, text=description.strip(), style="Desc.TLabel", wraplength=460,
                      justify="left").grid(row=2, column=0, sticky="w", pady=(12, 0))
        ttk.Separator(outer).grid(row=3, column=0, sticky="ew", pady=(14, 0))

    def _buttons(self, outer: ttk.Frame) -> None:
        bar = ttk.Frame(outer, style="Dialog.TFrame")
        bar.grid(row=20, column=0, sticky="e", pady=(20, 0))
        cancel = ttk.Button(bar, text="Cancel", command=self.cancel)
        ok = ttk.Button(bar, text="OK", command=self.submit, style="Accent.TButton",
                        default="active")
        cancel.grid(row=0, column=0, padx=(0, 8))
        ok.grid(row=0, column=1)
        # Enter on a focused button means that button, not "submit the form".
        cancel.bind("<Return>", lambda _e: self._break(self.cancel))
        cancel.bind("<KP_Enter>", lambda _e: self._break(self.cancel))

    @staticmethod
    def _break(action: Callable[[], None]) -> str:
        action()
        return "break"

    # ------------------------------------------------------------------ behaviour
    def present(self) -> None:
        """Centre, raise above other windows for a moment, and focus the first field."""
        root = self.root
        root.update_idletasks()
        w, h = root.winfo_reqwidth(), root.winfo_reqheight()
        x = max((root.winfo_screenwidth() - w) // 2, 0)
        y = max((root.winfo_screenheight() - h) // 3, 0)
        root.geometry(f"+{x}+{y}")
        root.lift()
        root.attributes("-topmost", True)
        root.after(TOPMOST_MS, lambda: root.attributes("-topmost", False))
        root.after_idle(self._focus_first)
        root.after(PARENT_POLL_MS, self._watch_parent)

    def _focus_first(self) -> None:
        self.root.focus_force()
        first = self.rows[0]
        first.focus_target.focus_set()
        if not isinstance(first, _ChoiceRow):
            first.entry.icursor("end")
        for row in self.rows:
            row.refresh_placeholder()

    def _watch_parent(self) -> None:
        # A killed MCP server must never leave a credentials window behind.
        if os.getppid() != self._parent_pid:
            self.cancel()
            return
        self.root.after(PARENT_POLL_MS, self._watch_parent)

    def _toggle_focused_password(self, _event: object) -> str:
        focused = self.root.focus_get()
        passwords = [r for r in self.rows if r.field.field_type == "password"]
        target = next((r for r in passwords if r.entry is focused), passwords[0] if passwords
                      else None)
        if target is not None:
            target.shown.set(not target.shown.get())
            target.apply_visibility()
        return "break"

    def submit(self) -> None:
        first_bad: _Row | None = None
        for row in self.rows:
            problem = row.problem()
            row.touched = row.touched or problem is not None
            row.show_problem(problem)
            if problem and first_bad is None:
                first_bad = row
        if first_bad is not None:
            first_bad.select_all()
            return
        values = {row.field.name: row.value() for row in self.rows}
        try:
            build_result(self.template, values)  # the size of all values together
        except TemplateError:
            self.form_error.configure(text=f"\u26a0 {result_too_large()}")
            self.form_error.grid()
            return
        self.result = values
        self.root.destroy()

    def cancel(self) -> None:
        self.result = None
        self.root.destroy()

    def _on_callback_error(self, exc: type[BaseException], _val: BaseException,
                           _tb: object) -> None:
        # Tk would print a traceback (which could show a local holding a value): refuse.
        self.failure = f"the credentials dialog failed unexpectedly ({exc.__name__})"
        self.result = None
        self.root.destroy()


def run_dialog(template: Template, parent_pid: int | None = None) -> dict[str, str] | None:
    """Show the window and block until it closes; None means cancelled or closed.

    Raises NoDisplayError when Tk cannot open the display, DialogError when a callback
    failed. `parent_pid` is the process that asked (closing the window when it dies);
    default: our parent now.
    """
    from mcp_secrets.display import no_display_message

    try:
        root = tk.Tk(className="mcp-secrets")
    except tk.TclError as exc:
        raise NoDisplayError(no_display_message(" ".join(str(exc).split()))) from None
    app = DialogApp(root, template, parent_pid)
    app.present()
    root.mainloop()
    if app.failure:
        raise DialogError(app.failure)
    return app.result
