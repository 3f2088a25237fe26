"""The mistake catalogue: for every question, realistic wrong answers (each must lose points on that question, with a
message that names the real cause) and correct answers written differently (each must keep full marks).

MISTAKES[assignment][question] = [(what the student did, the answer cell, a phrase the feedback must contain)]
CORRECT[assignment][question]  = [(how it is written, the answer cell)]
An answer replaces the question's whole answer cell; the other questions keep the solutions' answers.
tests/test_grading_catalogue.py grades each one in the sandbox, as `make grade` does.
"""

CH1_LOOP = """def train(learning_rate, n_epochs):
    w = 0.0
    w_history = []
    loss_history = []
    for epoch in range(n_epochs):
        y_pred = forward(X, w)
        l = loss(y_pred, Y)
        dw = gradient(X, Y, y_pred)
        w -= learning_rate * dw
        w_history.append(w)
        loss_history.append(l)
    return w_history, loss_history


w_history, loss_history = train(0.01, 10)
"""

CH2_TRAIN = """def train(learning_rate, n_epochs):
    w = torch.tensor(0.0, requires_grad=True)
    w_history = []
    for epoch in range(n_epochs):
        l = loss(forward(X, w), Y)
        l.backward()
        with torch.no_grad():
            w -= learning_rate * w.grad
        w.grad.zero_()
        w_history.append(w.item())
    return w_history
"""

CH3_TRAIN = """def train(learning_rate, n_epochs):
    w = torch.tensor(0.0, requires_grad=True)
    loss = nn.MSELoss()
    optimizer = torch.optim.SGD([w], lr=learning_rate)
    w_history = []
    for epoch in range(n_epochs):
        l = loss(forward(X, w), Y)
        optimizer.zero_grad()
        l.backward()
        optimizer.step()
        w_history.append(w.item())
    return w_history
"""

CH4_LOOP = """torch.manual_seed(42)
model = nn.Linear(X2.shape[1], Y2.shape[1])
learning_rate = 0.05
n_epochs = 500
loss = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
loss_history = []
for epoch in range(n_epochs):
    y_pred = model(X2)
    l = loss(y_pred, Y2)
    optimizer.zero_grad()
    l.backward()
    optimizer.step()
    loss_history.append(l.item())
"""

CH5_SWEEP = """def sweep(rates, n_epochs):
    final_loss = {}
    stable_rates = []
    for rate in rates:
        loss_history = train(rate, n_epochs)
        final_loss[rate] = loss_history[-1]
        if not diverged(loss_history):
            stable_rates.append(rate)
    return final_loss, stable_rates
"""

CH6_VALUE = '''class Value:
    def __init__(self, data, children=(), op=""):
        self.data = data
        self.grad = 0.0
        self._children = children
        self._op = op
        self._backward = lambda: None

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        out = Value(self.data ** exponent, (self,), f"**{exponent}")

        def _backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * other ** -1

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def zero_grad(self):
        self.grad = 0.0
'''
CH6_MUL = """            self.grad += other.data * out.grad
            other.grad += self.data * out.grad"""

CH6_BACKWARD = """def backward(output):
    order = []
    visited = set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for child in node._children:
                visit(child)
            order.append(node)
    visit(output)
    output.grad = 1.0
    for node in reversed(order):
        node._backward()


Value.backward = backward
"""

CH6_STEP = """def train_step(w, learning_rate):
    y_pred = [forward(x, w) for x in X]
    l = loss(y_pred, Y)
    l.backward()
    gradient = w.grad
    w.data -= learning_rate * w.grad
    w.zero_grad()
    return l.data, gradient
"""

CH7_TRAIN = """def train(X_train, Y_train, X_val, Y_val, batch_size, n_epochs, learning_rate):
    torch.manual_seed(0)
    model = nn.Linear(X_train.shape[1], 1)
    loss = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    batch_losses = []
    val_losses = []
    loader = DataLoader(TensorDataset(X_train, Y_train), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    for epoch in range(n_epochs):
        for x_batch, y_batch in loader:
            l = loss(model(x_batch), y_batch)
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            batch_losses.append(l.item())
        with torch.no_grad():
            val_losses.append(loss(model(X_val), Y_val).item())
    return model, batch_losses, val_losses
"""


def gradient(body):
    return f"def gradient(x, y, y_pred):\n    return {body}\n"


def rates(one_step, limit):
    """Chapter 1's question 3: the two functions of the inputs x."""
    return f"def lr_one_step(x):\n    return {one_step}\n\n\ndef lr_limit(x):\n    return {limit}\n"


def sum_rates(rate, limit):
    """Chapter 3's question 3: the two functions for the summed loss."""
    return (f"def lr_for_sum(learning_rate, x):\n    return {rate}\n\n\n"
            f"def limit_for_sum(x):\n    return {limit}\n")


def best(body):
    return f"def best_rate(rates):\n    return {body}\n"


ONE_STEP, LIMIT = "1 / (2 * np.mean(x ** 2))", "1 / np.mean(x ** 2)"
FOR_SUM, SUM_LIMIT = "learning_rate / len(x)", "1 / float((x ** 2).sum())"


MISTAKES = {
    "ch1-by-hand": {
        "q1": [
            ("the sum instead of the mean", gradient("np.sum(2 * x * (y_pred - y))"), "instead of taking the mean"),
            ("the global X and Y instead of the arguments", gradient("np.mean(2 * X * (y_pred - Y))"),
             "Use the arguments x, y, y_pred"),
            ("the factor 2 of the square's derivative left out", gradient("np.mean(x * (y_pred - y))"),
             "should be -30.0"),
            ("y - y_pred: the sign of the error reversed", gradient("np.mean(2 * x * (y - y_pred))"),
             "should be -30.0"),
            ("the mean of the error times the mean of x", gradient("np.mean(2 * x) * np.mean(y_pred - y)"),
             "the loss changes at rate"),
            ("the sum divided by 4, the course's number of points", gradient("np.sum(2 * x * (y_pred - y)) / 4"),
             "the loss changes at rate"),
            ("one number per data point, no mean", gradient("2 * x * (y_pred - y)"), "one number"),
        ],
        "q2": [
            ("the update goes up the gradient", CH1_LOOP.replace("w -= learning_rate", "w += learning_rate"),
             "the update goes the wrong way"),
            ("the loss recorded after the update",
             CH1_LOOP.replace("        loss_history.append(l)\n",
                              "        loss_history.append(loss(forward(X, w), Y))\n"), "before each update"),
            ("one epoch too few", CH1_LOOP.replace("range(n_epochs)", "range(n_epochs - 1)"), "10 values"),
            ("the gradient appended instead of w", CH1_LOOP.replace("w_history.append(w)", "w_history.append(dw)"),
             "After epoch 1, w should be 0.300"),
            ("the learning-rate argument ignored", CH1_LOOP.replace("learning_rate * dw", "0.01 * dw"),
             "use the learning_rate argument"),
            ("w recorded before the update",
             CH1_LOOP.replace("        w -= learning_rate * dw\n        w_history.append(w)\n",
                              "        w_history.append(w)\n        w -= learning_rate * dw\n"),
             "After epoch 1, w should be 0.300"),
            ("the histories typed in from the closed form, train left unwritten",
             "def train(learning_rate, n_epochs):\n    w = 0.0\n    w_history = []\n    loss_history = []\n"
             "    for epoch in range(n_epochs):\n        ...\n    return w_history, loss_history\n\n\n"
             "w_history = [2 - 2 * 0.85 ** k for k in range(1, 11)]\n"
             "loss_history = [30 * 0.85 ** (2 * k) for k in range(10)]\n", "should record 10 values"),
        ],
        "q3": [
            ("the two rates swapped", rates(LIMIT, ONE_STEP), "twice the one-step rate"),
            ("numbers typed in for the course data, no functions", "lr_one_step = 1 / 15\nlr_limit = 2 / 15\n",
             "a number typed in"),
            ("functions that return the course data's numbers", rates("1 / 15", "2 / 15"), "the course data's 1/15"),
            ("the global X instead of the argument", rates("1 / (2 * np.mean(X ** 2))", "1 / np.mean(X ** 2)"),
             "compute the rate from x"),
            ("the factor 2 of the square's derivative left out", rates("1 / np.mean(x ** 2)", "2 / np.mean(x ** 2)"),
             "the 2 of the square's derivative"),
            ("the sum of the squares instead of their mean", rates("1 / (2 * np.sum(x ** 2))", "1 / np.sum(x ** 2)"),
             "it sums the x_i^2"),
            ("the square of the mean instead of the mean of the squares",
             rates("1 / (2 * np.mean(x) ** 2)", "1 / np.mean(x) ** 2"), "square of the mean"),
            ("the limit equal to the one-step rate", rates(ONE_STEP, ONE_STEP), "diverges only once"),
            ("the limit taken as twice the one-step rate, doubled again", rates(ONE_STEP, f"4 * {ONE_STEP}"),
             "twice the limit"),
        ],
    },
    "ch2-autograd": {
        "q1": [
            ("w made without requires_grad", "def autograd_gradient(w_value):\n    w = torch.tensor(w_value)\n"
             "    l = loss(forward(X, w), Y)\n    l.backward()\n    return w.grad.item()\n", "raised"),
            ("a summed loss", "def autograd_gradient(w_value):\n    w = torch.tensor(w_value, requires_grad=True)\n"
             "    l = ((forward(X, w) - Y) ** 2).sum()\n    l.backward()\n    return w.grad.item()\n", "-30"),
            ("backward() never called", "def autograd_gradient(w_value):\n"
             "    w = torch.tensor(w_value, requires_grad=True)\n    l = loss(forward(X, w), Y)\n"
             "    return w.grad.item()\n", "raised"),
            ("the gradient of the prediction, not of the loss", "def autograd_gradient(w_value):\n"
             "    w = torch.tensor(w_value, requires_grad=True)\n    forward(X, w).sum().backward()\n"
             "    return w.grad.item()\n", "-30"),
            ("a formula for the course data, no autograd", "def autograd_gradient(w_value):\n"
             "    return 15 * (w_value - 2)\n", "backward()"),
            ("the sign flipped", "def autograd_gradient(w_value):\n    w = torch.tensor(w_value, requires_grad=True)\n"
             "    l = loss(forward(X, w), Y)\n    l.backward()\n    return -w.grad.item()\n", "-30"),
        ],
        "q2": [
            ("w = w - ..., which rebinds w", "def update(w, learning_rate):\n    with torch.no_grad():\n"
             "        w = w - learning_rate * w.grad\n", "new tensor"),
            ("no torch.no_grad()", "def update(w, learning_rate):\n    w -= learning_rate * w.grad\n"
             "    w.grad.zero_()\n", "no_grad"),
            ("w.data changed, without torch.no_grad()", "def update(w, learning_rate):\n"
             "    w.data -= learning_rate * w.grad\n    w.grad.zero_()\n", "w.data"),
            ("the gradient never zeroed", "def update(w, learning_rate):\n    with torch.no_grad():\n"
             "        w -= learning_rate * w.grad\n", "zero"),
            ("up the gradient", "def update(w, learning_rate):\n    with torch.no_grad():\n"
             "        w += learning_rate * w.grad\n    w.grad.zero_()\n", "w should be"),
            ("the learning-rate argument ignored", "def update(w, learning_rate):\n    with torch.no_grad():\n"
             "        w -= 0.01 * w.grad\n    w.grad.zero_()\n", "learning rate 0.02"),
        ],
        "q3": [
            ("a missing w.grad.zero_()", CH2_TRAIN.replace("        w.grad.zero_()\n", ""), "zero"),
            ("the learning-rate argument ignored", CH2_TRAIN.replace("learning_rate * w.grad", "0.01 * w.grad"),
             "learning"),
            ("one epoch too few", CH2_TRAIN.replace("range(n_epochs)", "range(n_epochs - 1)"), "values"),
            ("w recorded before the update", CH2_TRAIN.replace("        w_history.append(w.item())\n", "").replace(
                "        l.backward()\n", "        w_history.append(w.item())\n        l.backward()\n"), "w"),
            ("the tensor appended, not its number", CH2_TRAIN.replace("w_history.append(w.item())",
                                                                      "w_history.append(w)"), "w.item()"),
        ],
    },
    "ch3-loss-and-optimizer": {
        "q1": [
            ("reduction='sum'", "w = torch.tensor(0.0, requires_grad=True)\nlearning_rate = 0.01\n"
             "loss = nn.MSELoss(reduction='sum')\noptimizer = torch.optim.SGD([w], lr=learning_rate)\n", "sum"),
            ("nn.L1Loss", "w = torch.tensor(0.0, requires_grad=True)\nlearning_rate = 0.01\n"
             "loss = nn.L1Loss()\noptimizer = torch.optim.SGD([w], lr=learning_rate)\n", "loss"),
            ("a learning rate of 0.1", "w = torch.tensor(0.0, requires_grad=True)\nlearning_rate = 0.01\n"
             "loss = nn.MSELoss()\noptimizer = torch.optim.SGD([w], lr=0.1)\n", "rate"),
            ("the optimizer given another tensor", "w = torch.tensor(0.0, requires_grad=True)\nlearning_rate = 0.01\n"
             "loss = nn.MSELoss()\noptimizer = torch.optim.SGD([torch.tensor(0.0, requires_grad=True)], "
             "lr=learning_rate)\n", "w"),
            ("momentum", "w = torch.tensor(0.0, requires_grad=True)\nlearning_rate = 0.01\n"
             "loss = nn.MSELoss()\noptimizer = torch.optim.SGD([w], lr=learning_rate, momentum=0.9)\n", "momentum"),
            ("weight decay", "w = torch.tensor(0.0, requires_grad=True)\nlearning_rate = 0.01\n"
             "loss = nn.MSELoss()\noptimizer = torch.optim.SGD([w], lr=learning_rate, weight_decay=0.01)\n",
             "weight_decay"),
        ],
        "q2": [
            ("a missing optimizer.zero_grad()", CH3_TRAIN.replace("        optimizer.zero_grad()\n", ""), "zero_grad"),
            ("zero_grad between backward and step", CH3_TRAIN.replace(
                "        optimizer.zero_grad()\n        l.backward()\n",
                "        l.backward()\n        optimizer.zero_grad()\n"), "w"),
            ("step before backward", CH3_TRAIN.replace("        l.backward()\n        optimizer.step()\n",
                                                      "        optimizer.step()\n        l.backward()\n"), "w"),
            ("the learning-rate argument ignored", CH3_TRAIN.replace("lr=learning_rate", "lr=0.01"), "learning"),
            ("the loss recorded instead of w", CH3_TRAIN.replace("w_history.append(w.item())",
                                                                 "w_history.append(l.item())"), "w"),
        ],
        "q3": [
            ("numbers typed in for the course data, no functions",
             "lr_for_sum = 0.01 / 4\nlimit_for_sum = 2 / 15 / 4\n", "a number typed in"),
            ("the rate multiplied by N instead of divided", sum_rates("learning_rate * len(x)", SUM_LIMIT),
             "times the mean's rate"),
            ("the mean's rate kept", sum_rates("learning_rate", SUM_LIMIT), "the mean's own rate"),
            ("divided by 4, the course's number of points", sum_rates("learning_rate / 4", SUM_LIMIT),
             "divide by len(x)"),
            ("the mean's limit kept", sum_rates(FOR_SUM, "1 / float((x ** 2).mean())"), "the mean loss's limit"),
            ("the course's limit divided by N", sum_rates(FOR_SUM, "2 / 15 / len(x)"), "depends on the data"),
            ("the 2 of the square's derivative left out", sum_rates(FOR_SUM, "2 / float((x ** 2).sum())"),
             "twice the limit"),
            ("the limit divided by N once more", sum_rates(FOR_SUM, "1 / float((x ** 2).sum()) / len(x)"),
             "times too small"),
        ],
    },
    "ch4-model": {
        "q1": [
            ("nn.Linear(4, 1)", "X2 = X.reshape(-1, 1)\nY2 = Y.reshape(-1, 1)\ntorch.manual_seed(42)\n"
             "model = nn.Linear(4, 1)\n", "model"),
            ("X2 of shape (1, 4)", "X2 = X.reshape(1, -1)\nY2 = Y.reshape(-1, 1)\ntorch.manual_seed(42)\n"
             "model = nn.Linear(1, 1)\n", "shape"),
            ("Y2 left 1-D", "X2 = X.reshape(-1, 1)\nY2 = Y\ntorch.manual_seed(42)\nmodel = nn.Linear(1, 1)\n",
             "Y2"),
            ("no bias", "X2 = X.reshape(-1, 1)\nY2 = Y.reshape(-1, 1)\ntorch.manual_seed(42)\n"
             "model = nn.Linear(1, 1, bias=False)\n", "bias"),
            ("X2 a numpy array", "X2 = X.reshape(-1, 1).numpy()\nY2 = Y.reshape(-1, 1)\ntorch.manual_seed(42)\n"
             "model = nn.Linear(1, 1)\n", "X2"),
        ],
        "q2": [
            ("a target of shape (4,)", CH4_LOOP.replace("l = loss(y_pred, Y2)", "l = loss(y_pred, Y)"), "shape"),
            ("a missing optimizer.zero_grad()", CH4_LOOP.replace("    optimizer.zero_grad()\n", ""), "loss"),
            ("step before backward", CH4_LOOP.replace("    l.backward()\n    optimizer.step()\n",
                                                     "    optimizer.step()\n    l.backward()\n"), "loss"),
            ("50 epochs", CH4_LOOP.replace("n_epochs = 500", "n_epochs = 50"), "500"),
            ("a learning rate of 0.005", CH4_LOOP.replace("learning_rate = 0.05", "learning_rate = 0.005"), "loss"),
        ],
        "q3": [
            ("a 1-D input", "def predict(model, x_values):\n    with torch.no_grad():\n"
             "        return model(torch.tensor(x_values)).tolist()\n", "(N, features)"),
            ("a tensor returned, not a list", "def predict(model, x_values):\n"
             "    x = torch.tensor(x_values, dtype=torch.float32).reshape(-1, 1)\n    with torch.no_grad():\n"
             "        return model(x).flatten()\n", "list"),
            ("a list of one-element lists", "def predict(model, x_values):\n"
             "    x = torch.tensor(x_values, dtype=torch.float32).reshape(-1, 1)\n    with torch.no_grad():\n"
             "        return model(x).tolist()\n", "numbers"),
            ("the global model instead of the argument", "def predict(m, x_values):\n"
             "    x = torch.tensor(x_values, dtype=torch.float32).reshape(-1, 1)\n    with torch.no_grad():\n"
             "        return model(x).flatten().tolist()\n", "model"),
            ("no torch.no_grad()", "def predict(model, x_values):\n"
             "    x = torch.tensor(x_values, dtype=torch.float32).reshape(-1, 1)\n"
             "    return model(x).flatten().tolist()\n", "requires grad"),
            ("float64 inputs", "def predict(model, x_values):\n"
             "    x = torch.tensor(x_values, dtype=torch.float64).reshape(-1, 1)\n    with torch.no_grad():\n"
             "        return model(x).flatten().tolist()\n", "raised"),
        ],
    },
    "ch5-loss-curves": {
        "q1": [
            ("blind to nan", "def diverged(loss_history):\n    return loss_history[-1] > loss_history[0]\n", "nan"),
            ("the last two losses compared", "def diverged(loss_history):\n    l = np.asarray(loss_history)\n"
             "    return bool(not np.all(np.isfinite(l)) or l[-1] > l[-2])\n", "diverged"),
            ("nan caught, inf missed", "def diverged(loss_history):\n    l = np.asarray(loss_history)\n"
             "    return bool(np.any(np.isnan(l)) or l[-1] > l[0])\n", "inf"),
            ("a threshold on the last loss", "def diverged(loss_history):\n    l = np.asarray(loss_history)\n"
             "    return bool(not np.all(np.isfinite(l)) or l[-1] > 1e6)\n", "diverged"),
            ("a flat run counted as diverged", "def diverged(loss_history):\n    l = np.asarray(loss_history)\n"
             "    return bool(not np.all(np.isfinite(l)) or l[-1] >= l[0])\n", "flat"),
            ("the highest loss against the first", "def diverged(loss_history):\n    l = np.asarray(loss_history)\n"
             "    return bool(not np.all(np.isfinite(l)) or l.max() > l[0])\n", "diverged"),
        ],
        "q2": [
            ("a loss threshold", CH5_SWEEP.replace("        if not diverged(loss_history):\n",
                                                    "        if loss_history[-1] < 1e6:\n"), "stable"),
            ("all rates listed", CH5_SWEEP.replace("return final_loss, stable_rates",
                                                   "return final_loss, list(rates)"), "stable"),
            ("20 epochs", CH5_SWEEP.replace("train(rate, n_epochs)", "train(rate, 20)"), "final"),
            ("one epoch too few", CH5_SWEEP.replace("train(rate, n_epochs)", "train(rate, n_epochs - 1)"),
             "n_epochs epochs"),
            ("the first loss recorded", CH5_SWEEP.replace("loss_history[-1]", "loss_history[0]"), "final"),
            ("the unstable rates listed", CH5_SWEEP.replace("if not diverged", "if diverged"), "stable"),
            ("a typed-in list of stable rates", CH5_SWEEP.replace("return final_loss, stable_rates",
                                                                  "return final_loss, [0.01, 0.05, 0.1, 0.13]"),
             "typed in"),
        ],
        "q3": [
            ("a number typed in, no function", "best_rate = 0.05\n", "a number typed in"),
            ("the course's answer for every list", best("0.05"), "not one of the rates it was given"),
            ("the largest rate", best("max(rates)"), "stability limit"),
            ("the largest stable rate", best("max(rate for rate in rates if rate < 2 / 15)"),
             "|1 - 15 lr| is smallest"),
            ("the factor without its absolute value", best("min(rates, key=lambda rate: 1 - 15 * rate)"),
             "stability limit"),
            ("never overshoot: the largest rate up to 1/15", best("max(rate for rate in rates if rate <= 1 / 15)"),
             "overshoot"),
            ("the first losses compared", best("min(rates, key=lambda rate: train(rate, 10)[0])"),
             "|1 - 15 lr| is smallest"),
            ("the smallest rate", best("min(rates)"), "|1 - 15 lr| is smallest"),
        ],
    },
    "ch6-your-own-autograd": {
        "q1": [
            ("= instead of +=", CH6_VALUE.replace(CH6_MUL, "            self.grad = other.data * out.grad\n"
                                                            "            other.grad = self.data * out.grad"), "+="),
            ("the two derivatives swapped", CH6_VALUE.replace(CH6_MUL, "            self.grad += self.data * out.grad\n"
                                                                       "            other.grad += other.data * out.grad"),
             "grad"),
            ("out.grad left out", CH6_VALUE.replace(CH6_MUL, "            self.grad += other.data\n"
                                                              "            other.grad += self.data"), "grad"),
            ("only one input updated", CH6_VALUE.replace(CH6_MUL, "            self.grad += other.data * out.grad"),
             "grad"),
            ("Values added, not numbers", CH6_VALUE.replace(CH6_MUL, "            self.grad += other * out.grad\n"
                                                                      "            other.grad += self * out.grad"),
             "number"),
        ],
        "q2": [
            ("the order walked forwards", CH6_BACKWARD.replace("reversed(order)", "order"), "reverse"),
            ("output.grad not set to 1", CH6_BACKWARD.replace("    output.grad = 1.0\n", ""), "1.0"),
            ("no visited set", CH6_BACKWARD.replace("        if node not in visited:\n            visited.add(node)\n"
                                                    "            for child in node._children:\n"
                                                    "                visit(child)\n            order.append(node)\n",
                                                    "        for child in node._children:\n            visit(child)\n"
                                                    "        order.append(node)\n"), "grad"),
            ("only the output's _backward", "def backward(output):\n    output.grad = 1.0\n    output._backward()\n\n\n"
             "Value.backward = backward\n", "grad"),
            ("children before parents, recursively", "def backward(output):\n    output.grad = 1.0\n\n"
             "    def walk(node):\n        for child in node._children:\n            walk(child)\n"
             "        node._backward()\n    walk(output)\n\n\nValue.backward = backward\n", "grad"),
        ],
        "q3": [
            ("a missing w.zero_grad()", CH6_STEP.replace("    w.zero_grad()\n", ""), "once per step"),
            ("up the gradient", CH6_STEP.replace("w.data -=", "w.data +="), "w"),
            ("zeroed before the gradient is read", CH6_STEP.replace(
                "    gradient = w.grad\n    w.data -= learning_rate * w.grad\n    w.zero_grad()\n",
                "    w.data -= learning_rate * w.grad\n    w.zero_grad()\n    gradient = w.grad\n"), "gradient"),
            ("the loss Value returned, not its number", CH6_STEP.replace("return l.data, gradient",
                                                                         "return l, gradient"), "number"),
            ("the learning rate ignored", CH6_STEP.replace("learning_rate * w.grad", "0.01 * w.grad"), "rate"),
            ("a gradient derived by hand, the engine unused", "def train_step(w, learning_rate):\n"
             "    l = loss([forward(x, w.data) for x in X], Y)\n    gradient = 15 * (w.data - 2)\n"
             "    w.data -= learning_rate * gradient\n    return l, gradient\n", "backward()"),
        ],
    },
    "ch7-minibatches": {
        "q1": [
            ("the whole data set's statistics", "train_mean = features.mean(dim=0)\ntrain_std = features.std(dim=0)\n"
             "X_train = (X_train_raw - train_mean) / train_std\nX_val = (X_val_raw - train_mean) / train_std\n",
             "training"),
            ("the validation set with its own statistics", "X_train = (X_train_raw - X_train_raw.mean(dim=0)) / "
             "X_train_raw.std(dim=0)\nX_val = (X_val_raw - X_val_raw.mean(dim=0)) / X_val_raw.std(dim=0)\n",
             "training"),
            ("centred, not scaled", "train_mean = X_train_raw.mean(dim=0)\nX_train = X_train_raw - train_mean\n"
             "X_val = X_val_raw - train_mean\n", "standard"),
            ("one mean over all features", "m = X_train_raw.mean()\ns = X_train_raw.std()\n"
             "X_train = (X_train_raw - m) / s\nX_val = (X_val_raw - m) / s\n", "mean"),
            ("the validation set left raw", "train_mean = X_train_raw.mean(dim=0)\ntrain_std = X_train_raw.std(dim=0)\n"
             "X_train = (X_train_raw - train_mean) / train_std\nX_val = X_val_raw\n", "training"),
        ],
        "q2": [
            ("rounding down", "def iterations_per_epoch(n_examples, batch_size):\n    return n_examples // batch_size\n",
             "last"),
            ("a float", "def iterations_per_epoch(n_examples, batch_size):\n    return n_examples / batch_size\n",
             "int"),
            ("always one more", "def iterations_per_epoch(n_examples, batch_size):\n"
             "    return n_examples // batch_size + 1\n", "iterations"),
            ("rounding to nearest", "def iterations_per_epoch(n_examples, batch_size):\n"
             "    return round(n_examples / batch_size)\n", "iterations"),
            ("the course's numbers only", "def iterations_per_epoch(n_examples, batch_size):\n    return 13\n",
             "iterations"),
        ],
        "q3": [
            ("a missing optimizer.zero_grad()", CH7_TRAIN.replace("            optimizer.zero_grad()\n", ""), "loss"),
            ("the validation loss per batch", CH7_TRAIN.replace(
                "        with torch.no_grad():\n            val_losses.append(loss(model(X_val), Y_val).item())\n", "")
             .replace("            batch_losses.append(l.item())\n", "            batch_losses.append(l.item())\n"
                      "            val_losses.append(loss(model(X_val), Y_val).item())\n"), "epoch"),
            ("the batch size ignored", CH7_TRAIN.replace("batch_size=batch_size", "batch_size=64"), "batch"),
            ("the learning rate ignored", CH7_TRAIN.replace("lr=learning_rate", "lr=0.01"), "loss"),
            ("one epoch too few", CH7_TRAIN.replace("range(n_epochs)", "range(n_epochs - 1)"), "epoch"),
            ("no shuffling", CH7_TRAIN.replace("shuffle=True", "shuffle=False"), "shuffl"),
        ],
    },
}

CORRECT = {
    "ch1-by-hand": {
        "q1": [("a method call", gradient("(2 * x * (y_pred - y)).mean()")),
               ("a dot product over the length", gradient("2 / len(x) * np.dot(x, y_pred - y)")),
               ("a Python float", gradient("float(np.mean(2 * x * (y_pred - y)))"))],
        "q2": [("w = w - ...", CH1_LOOP.replace("w -= learning_rate * dw", "w = w - learning_rate * dw")),
               ("floats appended", CH1_LOOP.replace("w_history.append(w)", "w_history.append(float(w))")),
               ("a while loop", CH1_LOOP.replace("    for epoch in range(n_epochs):\n",
                                                 "    epoch = 0\n    while epoch < n_epochs:\n        epoch += 1\n"))],
        "q3": [("numpy scalars from float32 inputs", rates(ONE_STEP, "2 * lr_one_step(x)")),
               ("a sum over the length, Python floats", rates("len(x) / (2 * float(np.sum(x ** 2)))",
                                                             "float(len(x) / np.dot(x, x))")),
               ("lambdas and a helper", "def curvature(x):\n    return 2 * (x ** 2).mean()\n\n\n"
                "lr_one_step = lambda x: 1 / curvature(x)\nlr_limit = lambda x: 2 / curvature(x)\n")],
    },
    "ch2-autograd": {
        "q1": [("the gradient as a float", "def autograd_gradient(w_value):\n"
                "    w = torch.tensor(float(w_value), requires_grad=True)\n    loss(forward(X, w), Y).backward()\n"
                "    return float(w.grad)\n")],
        "q2": [("w.grad = None", "def update(w, learning_rate):\n    with torch.no_grad():\n"
                "        w -= learning_rate * w.grad\n    w.grad = None\n"),
               ("sub_", "def update(w, learning_rate):\n    with torch.no_grad():\n"
                "        w.sub_(learning_rate * w.grad)\n        w.grad.zero_()\n")],
        "q3": [("w.grad = None", CH2_TRAIN.replace("w.grad.zero_()", "w.grad = None"))],
    },
    "ch3-loss-and-optimizer": {
        "q1": [("keywords, an explicit mean and zero momentum", "w = torch.tensor(0.0, requires_grad=True)\n"
                "learning_rate = 0.01\nloss = torch.nn.MSELoss(reduction='mean')\n"
                "optimizer = torch.optim.SGD(params=[w], lr=learning_rate, momentum=0.0)\n"),
               ("a parameter group, the rate passed by position", "w = torch.tensor(0.0, requires_grad=True)\n"
                "learning_rate = 0.01\nfrom torch import optim\nloss = nn.MSELoss()\n"
                "optimizer = optim.SGD([{'params': [w]}], learning_rate)\n")],
        "q2": [("zero_grad after step", CH3_TRAIN.replace("        optimizer.zero_grad()\n        l.backward()\n"
                                                          "        optimizer.step()\n",
                                                          "        l.backward()\n        optimizer.step()\n"
                                                          "        optimizer.zero_grad()\n"))],
        "q3": [("x.numel() and a 0-d tensor", sum_rates("learning_rate / x.numel()", "1 / (x ** 2).sum()")),
               ("through the mean's limit", sum_rates("learning_rate / x.shape[0]",
                                                     "2 / (2 * (x ** 2).mean()) / len(x)"))],
    },
    "ch4-model": {
        "q2": [("model.zero_grad(), float(l)", CH4_LOOP.replace("optimizer.zero_grad()", "model.zero_grad()")
                .replace("loss_history.append(l.item())", "loss_history.append(float(l))")),
               ("zero_grad after step, the prediction inline",
                CH4_LOOP.replace("    y_pred = model(X2)\n    l = loss(y_pred, Y2)\n    optimizer.zero_grad()\n"
                                 "    l.backward()\n    optimizer.step()\n",
                                 "    l = loss(model(X2), Y2)\n    l.backward()\n    optimizer.step()\n"
                                 "    optimizer.zero_grad(set_to_none=True)\n")),
               ("a while loop, the loss detached", CH4_LOOP.replace("for epoch in range(n_epochs):\n",
                                                                    "epoch = 0\nwhile epoch < n_epochs:\n"
                                                                    "    epoch += 1\n")
                .replace("l.item()", "l.detach().item()"))],
        "q1": [("unsqueeze", "X2 = X.unsqueeze(1)\nY2 = Y.unsqueeze(1)\ntorch.manual_seed(42)\nmodel = nn.Linear(1, 1)\n")],
        "q3": [("a list comprehension", "def predict(model, x_values):\n    with torch.no_grad():\n"
                "        return [model(torch.tensor([[float(v)]])).item() for v in x_values]\n"),
               ("torch.inference_mode()", "def predict(model, x_values):\n"
                "    x = torch.tensor(x_values, dtype=torch.float32).reshape(-1, 1)\n"
                "    with torch.inference_mode():\n        return model(x).flatten().tolist()\n")],
    },
    "ch5-loss-curves": {
        "q1": [("plain Python", "import math\ndef diverged(loss_history):\n"
                "    if any(not math.isfinite(l) for l in loss_history):\n        return True\n"
                "    return loss_history[-1] > loss_history[0]\n")],
        "q2": [("comprehensions", "def sweep(rates, n_epochs):\n"
                "    runs = {rate: train(rate, n_epochs) for rate in rates}\n"
                "    final_loss = {rate: runs[rate][-1] for rate in rates}\n"
                "    return final_loss, [rate for rate in rates if not diverged(runs[rate])]\n"),
               ("numpy floats, zip and a filter", "def sweep(rates, n_epochs):\n"
                "    histories = [np.asarray(train(rate, n_epochs)) for rate in rates]\n"
                "    final_loss = dict(zip(rates, (h[-1] for h in histories)))\n"
                "    stable_rates = [r for r, h in zip(rates, histories) if not diverged(h)]\n"
                "    return final_loss, stable_rates\n")],
        "q3": [("by running train", best("min(rates, key=lambda rate: train(rate, 10)[-1])")),
               ("the rate closest to 1/15", best("min(rates, key=lambda rate: abs(rate - 1 / 15))")),
               ("a loop, numpy factors", "def best_rate(rates):\n    chosen, smallest = None, np.inf\n"
                "    for rate in rates:\n        factor = np.abs(1 - 15 * np.float32(rate))\n"
                "        if factor < smallest:\n            chosen, smallest = rate, factor\n    return chosen\n")],
    },
    "ch6-your-own-autograd": {
        "q1": [("grad = grad + ..., the factors named", CH6_VALUE.replace(
                    CH6_MUL, "            a, b = self.data, other.data\n"
                             "            self.grad = self.grad + b * out.grad\n"
                             "            other.grad = other.grad + a * out.grad")),
               ("out.grad first, the other order", CH6_VALUE.replace(
                   CH6_MUL, "            other.grad += out.grad * self.data\n"
                            "            self.grad += out.grad * other.data"))],
        "q3": [("float() and w.grad = 0.0", CH6_STEP.replace("    gradient = w.grad\n", "    gradient = float(w.grad)\n")
                .replace("    w.data -= learning_rate * w.grad\n    w.zero_grad()\n",
                         "    w.data = w.data - learning_rate * gradient\n    w.grad = 0.0\n")),
               ("zeroed first, as optimizer.zero_grad() is", CH6_STEP.replace("    w.zero_grad()\n", "").replace(
                   "    y_pred = [forward(x, w) for x in X]\n",
                   "    w.zero_grad()\n    y_pred = [forward(x, w) for x in X]\n")),
               ("a loop for the predictions", CH6_STEP.replace(
                   "    y_pred = [forward(x, w) for x in X]\n",
                   "    y_pred = []\n    for x in X:\n        y_pred.append(forward(x, w))\n"))],
        "q2": [("an explicit stack", "def backward(output):\n    order, visited, stack = [], set(), [(output, False)]\n"
                "    while stack:\n        node, done = stack.pop()\n        if done:\n            order.append(node)\n"
                "        elif node not in visited:\n            visited.add(node)\n            stack.append((node, True))\n"
                "            for child in node._children:\n                stack.append((child, False))\n"
                "    output.grad = 1.0\n    for node in reversed(order):\n        node._backward()\n\n\n"
                "Value.backward = backward\n")],
    },
    "ch7-minibatches": {
        "q1": [("torch.std_mean", "train_std, train_mean = torch.std_mean(X_train_raw, dim=0)\n"
                "X_train = (X_train_raw - train_mean) / train_std\nX_val = (X_val_raw - train_mean) / train_std\n"),
               ("numpy's std (correction 0), positional dims", "train_mean = X_train_raw.mean(0)\n"
                "train_std = X_train_raw.std(0, correction=0)\n"
                "X_train = (X_train_raw - train_mean) / train_std\nX_val = (X_val_raw - train_mean) / train_std\n"),
               ("keepdim statistics, then squeezed", "train_mean = X_train_raw.mean(dim=0, keepdim=True)\n"
                "train_std = X_train_raw.std(dim=0, keepdim=True)\n"
                "X_train = (X_train_raw - train_mean) / train_std\nX_val = (X_val_raw - train_mean) / train_std\n"
                "train_mean, train_std = train_mean.squeeze(0), train_std.squeeze(0)\n")],
        "q3": [("enumerate, eval mode and inference_mode", CH7_TRAIN.replace(
                    "        for x_batch, y_batch in loader:\n", "        for i, (x_batch, y_batch) in enumerate(loader):\n")
                .replace("        with torch.no_grad():\n            val_losses.append(loss(model(X_val), Y_val).item())\n",
                         "        model.eval()\n        with torch.inference_mode():\n"
                         "            val_losses.append(float(loss(model(X_val), Y_val)))\n        model.train()\n")),
               ("zero_grad after step, the loader made by keyword", CH7_TRAIN.replace(
                   "            optimizer.zero_grad()\n            l.backward()\n            optimizer.step()\n",
                   "            l.backward()\n            optimizer.step()\n            optimizer.zero_grad()\n")
                .replace("DataLoader(TensorDataset(X_train, Y_train), batch_size=batch_size,",
                         "DataLoader(dataset=TensorDataset(X_train, Y_train), batch_size=batch_size,"))],
        "q2": [("negative floor division", "def iterations_per_epoch(n_examples, batch_size):\n"
                "    return -(-n_examples // batch_size)\n")],
    },
}
